// Drift and silent-device alarms on a real hub (design §6, §7): telemetry windows published by a real mqtt.js
// device client, judged with the sample-size-aware decision; each alarm once until it clears, delivered as a
// signed webhook, audited, and visible where the dashboard looks.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Reference } from '@edgefleet/protocol';
import type { Hub } from '@edgefleet/hub';
import { apiClient, connectDevice, endClient, hubDb, startTestHub, tempDir, tinyModel, waitFor } from './helpers.js';
import { buildWindow, publishTelemetry, registerDevices, tinyValidation, type FleetDevice } from './dashboard-support.js';
import { signatureValid, startReceiver, type Receiver } from './webhooks-support.js';

const MINUTE = 60_000;

describe('fleet alarms', () => {
  let dir: ReturnType<typeof tempDir>;
  let hub: Hub;
  let receiver: Receiver;
  let secret: string;
  let reference: Reference;
  let device: FleetDevice;
  // the hub's clock: alarms judge "the last 10 minutes" and "silent for 15 minutes" by it
  let clock = Date.now();

  const api = () => apiClient(hub.urls.http, hub.adminToken);
  const check = () => hub.services.alarms!.check();
  const publish = async (version: string, minutesAgo: number[], inferences: number, shift: Record<string, number>, seed: number) => {
    const windows = minutesAgo.map((m, i) =>
      buildWindow(reference, { model: 'tiny', version, start: Math.floor((clock - m * MINUTE) / MINUTE) * MINUTE, inferences, latencyMs: 5, shift, seed: seed + i }),
    );
    const before = device.telemetrySeq;
    await publishTelemetry(device, windows);
    const db = hubDb(hub);
    await waitFor(async () => {
      await hub.flush();
      return db.prepare<[string, number], { n: number }>('SELECT COUNT(*) AS n FROM telemetry_batches WHERE device_id = ? AND seq > ?').get(device.id, before)!.n > 0;
    }, 'telemetry committed');
  };

  beforeAll(async () => {
    dir = tempDir('edgefleet-alarms-');
    receiver = await startReceiver();
    hub = await startTestHub(join(dir.path, 'data'), {
      ws: null,
      now: () => new Date(clock),
      webhooks: [receiver.url],
      webhookSecret: 'alarm-test-secret',
      // the periodic timer stays out of the way: the tests call check() themselves
      alarms: { intervalMs: 3_600_000, windowMs: 10 * MINUTE, silentMs: 15 * MINUTE },
    });
    secret = 'alarm-test-secret';
    for (const [version, seed] of [['1.0.0', 0], ['1.1.0', 1]] as const) {
      const res = await api().pushModel(tinyModel(seed), { name: 'tiny', version, validation: tinyValidation(400) });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      reference = res.body.manifest.reference;
    }
    expect(reference.features.length).toBe(3);
    [device] = await registerDevices(hub, [{ id: 'sensor-01', tags: { line: 'a' }, online: true }]);
  });
  afterAll(async () => {
    await endClient(device?.client);
    await hub?.close();
    await receiver?.close();
    dir.remove();
  });
  afterEach(async () => {
    await hub.services.notifier.idle();
    receiver.received.length = 0;
  });

  it('raises no drift alarm on too little data, even when it is shifted', async () => {
    const drifted = reference.features[1]!.name;
    await publish('1.1.0', [3], 40, { [drifted]: 1.5 }, 100);
    expect((await check()).raised).toEqual([]);
    const h = await api().get(`/health?model=tiny&version=1.1.0&from=${clock - 10 * MINUTE}&to=${clock + 1}`);
    expect(h.body.drift.find((d: any) => d.feature === drifted).verdict).toBe('insufficient-data');
  });

  it('raises a drift alarm for the shifted feature of one version, not for in-distribution windows of the same size', async () => {
    const drifted = reference.features[1]!.name;
    await publish('1.0.0', [4, 3, 2], 200, {}, 200);
    await publish('1.1.0', [4, 2], 280, { [drifted]: 1.2 }, 300);
    const res = await check();
    expect(res.raised).toEqual([{ kind: 'drift', key: `drift:tiny@1.1.0:${drifted}` }]);

    const [got] = await receiver.waitFor(1, 'drift-alarm');
    expect(signatureValid(secret, got!.raw, got!.headers['x-edgefleet-signature'])).toBe(true);
    const p = got!.body.payload;
    expect(p).toMatchObject({ model: 'tiny', version: '1.1.0', feature: drifted, n: 600 });
    expect(p.psi).toBeGreaterThan(p.critical);
    // one device on one line: no tag group to blame, the version is the scope
    expect(p).toMatchObject({ statistic: 'PSI', value: p.psi, threshold: p.critical, scope: null });
    expect(p.message).toMatch(new RegExp(`^tiny@1\\.1\\.0: ${drifted.replace(/[[\]]/g, '\\$&')} PSI \\d`));
    // both versions saw 600 values per feature: only the shifted one alarms
    const same = await api().get(`/health?model=tiny&version=1.0.0&from=${clock - 10 * MINUTE}&to=${clock + 1}`);
    expect(same.body.drift.map((d: any) => [d.n, d.verdict])).toEqual(reference.features.map(() => [600, 'no-drift']));

    const audit = (await hub.services.ctx.store.listAudit()).filter((a) => a.action === 'alarm.drift');
    expect(audit.map((a) => JSON.parse(a.details).feature)).toEqual([drifted]);
  });

  it('raises a drift alarm once, until it clears', async () => {
    const drifted = reference.features[1]!.name;
    expect((await check()).raised).toEqual([]);
    await publish('1.1.0', [1], 200, { [drifted]: 1.2 }, 400);
    expect((await check()).raised).toEqual([]);
    await hub.services.notifier.idle();
    expect(receiver.received).toHaveLength(0);

    // 20 minutes later the version sees in-distribution data again: the alarm clears, a new shift raises it anew
    clock += 20 * MINUTE;
    await publish('1.1.0', [3, 2], 300, {}, 500);
    expect((await check()).cleared).toEqual([{ kind: 'drift', key: `drift:tiny@1.1.0:${drifted}` }]);
    clock += 20 * MINUTE;
    await publish('1.1.0', [3, 2], 300, { [drifted]: 1.2 }, 600);
    expect((await check()).raised).toEqual([{ kind: 'drift', key: `drift:tiny@1.1.0:${drifted}` }]);
    await receiver.waitFor(1, 'drift-alarm');
    expect((await hub.services.ctx.store.listAudit()).map((a) => a.action).filter((a) => a.startsWith('alarm.drift'))).toEqual([
      'alarm.drift',
      'alarm.drift-cleared',
      'alarm.drift',
    ]);
    expect(hub.metrics.get('edgefleet_drift_alarms_total')).toBe(2);
  });

  it('raises device-silent once per silence for a device not heard from beyond the limit', async () => {
    const added = await api().post('/devices', { id: 'quiet-01', tags: { line: 'b' } });
    expect(added.status).toBe(201);
    clock += 10 * MINUTE;
    expect((await check()).raised.filter((a) => a.kind === 'silent')).toEqual([]);
    clock += 6 * MINUTE;
    // sensor-01 is online (its status says so), so only the device that never spoke is silent
    expect((await check()).raised).toEqual([{ kind: 'silent', key: 'silent:quiet-01' }]);
    const [got] = await receiver.waitFor(1, 'device-silent');
    expect(signatureValid(secret, got!.raw, got!.headers['x-edgefleet-signature'])).toBe(true);
    expect(got!.body.payload).toMatchObject({ deviceId: 'quiet-01', status: 'offline', limitMs: 15 * MINUTE, tags: { line: 'b' } });
    expect(got!.body.payload.silentForMs).toBeGreaterThan(15 * MINUTE);
    expect((await check()).raised).toEqual([]);

    // where the dashboard looks: the device's events and the overview's recent events
    const shown = await api().get('/devices/quiet-01');
    expect(shown.body.events.map((e: any) => e.type)).toEqual(['device-silent']);
    const overview = await api().get('/health/overview?events=50');
    expect(overview.body.events.some((e: any) => e.deviceId === 'quiet-01' && e.type === 'device-silent')).toBe(true);

    // it speaks: the silence is over; when it goes quiet again it is a new silence
    const client = await connectDevice(hub.urls.mqtt!, 'quiet-01', added.body.token);
    await client.publishAsync('ef/v1/devices/quiet-01/status', 'online', { qos: 1, retain: true });
    await waitFor(async () => {
      await hub.flush();
      return (await hub.services.ctx.store.getDevice('quiet-01'))?.status === 'online';
    }, 'quiet-01 online');
    expect((await check()).cleared).toEqual([{ kind: 'silent', key: 'silent:quiet-01' }]);
    await client.publishAsync('ef/v1/devices/quiet-01/status', 'offline', { qos: 1, retain: true });
    await waitFor(async () => {
      await hub.flush();
      return (await hub.services.ctx.store.getDevice('quiet-01'))?.status === 'offline';
    }, 'quiet-01 offline');
    await endClient(client);
    // the device's last-seen is stamped with real time; the hub's clock is 56 minutes ahead of it by now
    expect((await check()).raised).toEqual([{ kind: 'silent', key: 'silent:quiet-01' }]);
    await receiver.waitFor(2, 'device-silent');
    expect((await hub.services.ctx.store.listAudit()).map((a) => a.action).filter((a) => a.includes('silent'))).toEqual([
      'alarm.device-silent',
      'alarm.device-silent-cleared',
      'alarm.device-silent',
    ]);
    expect((await api().get('/audit/verify')).body.ok).toBe(true);
  });

  it('signs alarms with the secret the hub was given, not a generated one', () => {
    expect(() => readFileSync(join(dir.path, 'data', 'webhook-secret'))).toThrow();
  });
});

describe('silent devices across a hub restart', () => {
  it('does not blame devices for the hub’s own downtime: silence counts from the restart', async () => {
    const dir = tempDir('edgefleet-alarms-restart-');
    const receiver = await startReceiver();
    let clock = Date.now();
    const options = { ws: null, now: () => new Date(clock), webhooks: [receiver.url], alarms: { intervalMs: 3_600_000, silentMs: 15 * MINUTE } };
    let hub = await startTestHub(join(dir.path, 'data'), options);
    try {
      expect((await apiClient(hub.urls.http, hub.adminToken).post('/devices', { id: 'edge-r1' })).status).toBe(201);
      await hub.close();
      clock += 2 * 60 * MINUTE; // the hub was down for two hours
      hub = await startTestHub(join(dir.path, 'data'), options);
      clock += 5 * MINUTE;
      expect((await hub.services.alarms!.check()).raised).toEqual([]);
      clock += 11 * MINUTE;
      expect((await hub.services.alarms!.check()).raised).toEqual([{ kind: 'silent', key: 'silent:edge-r1' }]);
      const [got] = await receiver.waitFor(1, 'device-silent');
      expect(got!.body.payload.silentForMs).toBe(2 * 60 * MINUTE + 16 * MINUTE);
    } finally {
      await hub.close();
      await receiver.close();
      dir.remove();
    }
  });
});
