// Telemetry, events, reported state and status ingest (design §4, §6) through the embedded broker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { LIMITS, createWindow, histogramAdd, topics, type TelemetryBatch } from '@edgefleet/protocol';
import type { Hub } from '@edgefleet/hub';
import { apiClient, connectDevice, endClient, hubDb, startTestHub, tempDir, tinyModel, waitFor } from './helpers.js';

function batch(deviceId: string, seq: number, latencies: number[], errors = 0): TelemetryBatch {
  const start = Math.floor(Date.now() / 60_000) * 60_000;
  const w = createWindow('tiny', '1.0.0', 'active', start, start + 60_000);
  for (const l of latencies) histogramAdd(w.latencyMs, l);
  w.inferences = latencies.length;
  if (errors) w.errors = { INFERENCE_FAILED: errors };
  return { deviceId, seq, windows: [w], dropped: 0 };
}

describe('ingest', () => {
  let hub: Hub;
  let dir: ReturnType<typeof tempDir>;
  let api: ReturnType<typeof apiClient>;
  const devices: Record<string, MqttClient> = {};
  const rejected = (reason: string, topic: string) => hub.metrics.get('edgefleet_rejected_messages_total', { reason, topic });

  beforeAll(async () => {
    dir = tempDir();
    hub = await startTestHub(dir.path);
    api = apiClient(hub.urls.http, hub.adminToken);
    for (const id of ['dev-t1', 'dev-t2']) {
      const token = (await api.post('/devices', { id })).body.token;
      devices[id] = await connectDevice(hub.urls.mqtt!, id, token, {
        will: { topic: topics.status(id), payload: Buffer.from('offline'), qos: 1, retain: true },
      });
    }
  });
  afterAll(async () => {
    await Promise.all(Object.values(devices).map(endClient));
    await hub.close();
    dir.remove();
  });

  it('counts a duplicate telemetry batch once and merges devices into per-minute rollups', async () => {
    const b1 = batch('dev-t1', 1, [10, 10, 10, 10, 10, 10, 10, 10, 10, 100], 1);
    await devices['dev-t1']!.publishAsync(topics.telemetry('dev-t1'), JSON.stringify(b1), { qos: 1 });
    await devices['dev-t1']!.publishAsync(topics.telemetry('dev-t1'), JSON.stringify(b1), { qos: 1 });
    await devices['dev-t2']!.publishAsync(topics.telemetry('dev-t2'), JSON.stringify(batch('dev-t2', 1, [20, 20, 20, 20, 20, 20, 20, 20, 20, 20])), { qos: 1 });
    await waitFor(async () => {
      await hub.flush();
      return hub.metrics.get('edgefleet_telemetry_batches_total') === 2 && hub.metrics.get('edgefleet_telemetry_duplicates_total') === 1;
    }, 'two batches and one duplicate');
    const status = await api.get('/fleet/status');
    const h = status.body.health.find((x: { model: string }) => x.model === 'tiny');
    expect(h.inferences).toBe(20);
    expect(h.errors).toBe(1);
    expect(h.errorRate).toBeCloseTo(0.05);
    expect(h.reportingDevices).toBe(2);
    expect(h.latencyMs.p50).toBeGreaterThan(9.5);
    expect(h.latencyMs.p50).toBeLessThan(20.5);
    expect(h.latencyMs.p99).toBeGreaterThan(19.5);
    expect(h.latencyMs.p99).toBeLessThan(102);
  });

  it('drops and counts malformed, oversized and schema-violating payloads on every inbound topic, and keeps working', async () => {
    const c = devices['dev-t1']!;
    const huge = (n: number) => JSON.stringify({ pad: 'x'.repeat(n) });
    const cases: Array<[string, string | Buffer, string, string]> = [
      [topics.telemetry('dev-t1'), '{not json', 'BAD_JSON', 'telemetry'],
      [topics.telemetry('dev-t1'), huge(LIMITS.telemetry), 'TOO_LARGE', 'telemetry'],
      [topics.telemetry('dev-t1'), JSON.stringify({ deviceId: 'dev-t1', seq: -1, windows: [] }), 'BAD_MESSAGE', 'telemetry'],
      [topics.telemetry('dev-t1'), JSON.stringify(batch('dev-t2', 99, [1])), 'WRONG_DEVICE', 'telemetry'],
      [topics.events('dev-t1'), Buffer.from([0xff, 0xfe, 0x00]), 'BAD_JSON', 'events'],
      [topics.events('dev-t1'), huge(LIMITS.event), 'TOO_LARGE', 'events'],
      [topics.events('dev-t1'), JSON.stringify({ type: 'party', message: 'x', at: 'yesterday' }), 'BAD_MESSAGE', 'events'],
      [topics.reported('dev-t1'), '[[[', 'BAD_JSON', 'reported'],
      [topics.reported('dev-t1'), huge(LIMITS.reported), 'TOO_LARGE', 'reported'],
      [topics.reported('dev-t1'), JSON.stringify({ deviceId: 'dev-t1', models: 5 }), 'BAD_MESSAGE', 'reported'],
      [topics.status('dev-t1'), 'sleeping', 'BAD_MESSAGE', 'status'],
      [topics.status('dev-t1'), 'online-but-very-long-status', 'TOO_LARGE', 'status'],
      [topics.artifactGet('dev-t1'), 'nope', 'BAD_JSON', 'artifact-get'],
      [topics.artifactGet('dev-t1'), huge(LIMITS.chunkRequest), 'TOO_LARGE', 'artifact-get'],
      [topics.artifactGet('dev-t1'), JSON.stringify({ sha256: 'a'.repeat(64), chunks: [] }), 'BAD_MESSAGE', 'artifact-get'],
    ];
    const expected = new Map<string, number>();
    for (const [, , reason, topic] of cases) expected.set(`${reason}/${topic}`, (expected.get(`${reason}/${topic}`) ?? rejected(reason, topic)) + 1);
    for (const [topic, payload] of cases) await c.publishAsync(topic, payload, { qos: 1 });
    await waitFor(() => [...expected].every(([k, n]) => rejected(k.split('/')[0]!, k.split('/')[1]!) === n), 'every refusal counted');
    await hub.flush();
    const d = (await api.get('/devices/dev-t1')).body;
    expect(d.device.reported).toBeNull();
    expect(d.events).toHaveLength(0);
    // still alive: a good event is stored
    await c.publishAsync(topics.events('dev-t1'), JSON.stringify({ type: 'activated', model: 'tiny', version: '1.0.0', message: 'ok', at: new Date().toISOString() }), { qos: 1 });
    await waitFor(async () => {
      await hub.flush();
      return (await api.get('/devices/dev-t1')).body.events.length === 1;
    }, 'event stored');
    const metrics = await (await fetch(`${hub.urls.http}/metrics`)).text();
    expect(metrics).toMatch(/edgefleet_rejected_messages_total\{reason="BAD_JSON",topic="telemetry"\} 1/);
  });

  it('tracks online, then offline from the last will', async () => {
    await devices['dev-t2']!.publishAsync(topics.status('dev-t2'), 'online', { qos: 1, retain: true });
    await waitFor(async () => {
      await hub.flush();
      return (await api.get('/devices/dev-t2')).body.device.status === 'online';
    }, 'online');
    devices['dev-t2']!.stream.destroy(); // no DISCONNECT: the broker publishes the will
    await waitFor(async () => {
      await hub.flush();
      return (await api.get('/devices/dev-t2')).body.device.status === 'offline';
    }, 'offline from last will');
  });

  it('marks a device offline when it disconnects cleanly (no last will), after the online it sent', async () => {
    const c = devices['dev-t1']!;
    c.publish(topics.status('dev-t1'), 'online', { qos: 1, retain: true });
    await endClient(c); // DISCONNECT right after: the broker sends no will
    await waitFor(async () => {
      await hub.flush();
      const d = (await api.get('/devices/dev-t1')).body.device;
      return d.status === 'offline' && d.statusAt !== null;
    }, 'offline after a clean disconnect');
  });

  it('prunes raw windows after their retention period and keeps the rollups', async () => {
    await hub.flush();
    const db = hubDb(hub);
    const count = (table: string) => (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    expect(count('telemetry_windows')).toBeGreaterThan(0);
    const rollups = count('rollups');
    await hub.services.ingest.prune(Date.now() + 1, 0);
    expect(count('telemetry_windows')).toBe(0);
    expect(count('rollups')).toBe(rollups);
    const status = await api.get('/fleet/status');
    expect(status.body.health.find((x: { model: string }) => x.model === 'tiny').inferences).toBe(20);
  });
});

describe('ingest latency metric', () => {
  let hub: Hub;
  let dir: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    dir = tempDir();
    hub = await startTestHub(dir.path);
    const api = apiClient(hub.urls.http, hub.adminToken);
    expect((await api.pushModel(tinyModel(), { name: 'tiny', version: '1.0.0' })).status).toBe(201);
    for (const id of ['dev-l1', 'dev-l2', 'dev-l3']) await api.post('/devices', { id });
  });
  afterAll(async () => {
    await hub.close();
    dir.remove();
  });

  it('observes each committed window once when several merge into one rollup in a flush', async () => {
    // three devices, one minute, one flush: the first window starts the rollup, the others merge into it
    const sent = [
      batch('dev-l1', 1, [5, 5, 5]),
      batch('dev-l2', 1, [7, 7]),
      batch('dev-l3', 1, [9, 9, 9, 9]),
    ];
    const done = sent.map((b) => hub.services.ingest.handle(topics.telemetry(b.deviceId), Buffer.from(JSON.stringify(b))));
    await hub.flush();
    await Promise.all(done);
    expect(hub.metrics.get('edgefleet_telemetry_batches_total')).toBe(3);
    const text = hub.metrics.render();
    expect(text).toContain('edgefleet_inference_latency_seconds_count{model="tiny",version="1.0.0",role="active"} 9\n');
    const sum = Number(/edgefleet_inference_latency_seconds_sum\{model="tiny",version="1.0.0",role="active"\} ([\d.e-]+)/.exec(text)?.[1]);
    expect(sum).toBeCloseTo((15 + 14 + 36) / 1000, 6);
    // and the stored rollup holds all nine calls
    const rows = hubDb(hub).prepare("SELECT inferences FROM rollups WHERE model = 'tiny'").all() as Array<{ inferences: number }>;
    expect(rows.reduce((n, r) => n + r.inferences, 0)).toBe(9);
  });
});
