// Artifact multicast (design §4 `ef/v1/artifacts/{sha256}/data`): only devices whose desired state names the
// artifact may subscribe (real aedes, real mqtt.js); one publish per chunk reaches them all; what a device
// asks for again after it went out comes unicast; what went by before it subscribed comes in the next round.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { decodeChunkFrame, sha256Hex, topics } from '@edgefleet/protocol';
import { seededClassifier } from '@edgefleet/protocol/testing';
import type { Hub } from '@edgefleet/hub';
import { apiClient, connectDevice, endClient, startTestHub, tempDir, tinyModel, waitFor } from './helpers.js';

interface Dev {
  client: MqttClient;
  multicast: Buffer[];
  unicast: Buffer[];
}

describe('artifact multicast', () => {
  let hub: Hub;
  let dir: ReturnType<typeof tempDir>;
  let api: ReturnType<typeof apiClient>;
  // ~380 KB: several 64 KiB chunks
  const model = seededClassifier({ seed: 12, features: 3, classes: 2, hidden: 16_000, scale: 0.1 });
  const sha = sha256Hex(model);
  const count = Math.ceil(model.length / 65536);
  const devs = new Map<string, Dev>();

  const connect = async (id: string): Promise<Dev> => {
    const token = (await api.post('/devices', { id })).body.token as string;
    const client = await connectDevice(hub.urls.mqtt!, id, token);
    const d: Dev = { client, multicast: [], unicast: [] };
    client.on('message', (topic, payload) => {
      if (topic === topics.artifactMulticast(sha)) d.multicast.push(payload);
      else if (topic === topics.artifactData(id)) d.unicast.push(payload);
    });
    await client.subscribeAsync(topics.artifactData(id), { qos: 1 });
    devs.set(id, d);
    return d;
  };
  /** Granted QoS, or 128 when refused (mqtt.js v5 rejects the call on SUBACK 128). */
  const subscribe = async (d: Dev, filter: string): Promise<number> => {
    try {
      return (await d.client.subscribeAsync(filter, { qos: 1 }))[0]!.qos;
    } catch (err) {
      if (String(err).includes('Subscribe error')) return 128;
      throw err;
    }
  };
  const subscribeMulticast = (d: Dev): Promise<number> => subscribe(d, topics.artifactMulticast(sha));
  const indices = (frames: Buffer[]) => new Set(frames.map((f) => (decodeChunkFrame(f) as { value: { index: number } }).value.index));
  const request = (id: string, chunks: number[]) =>
    devs.get(id)!.client.publishAsync(topics.artifactGet(id), JSON.stringify({ sha256: sha, chunks }), { qos: 1 });
  const all = Array.from({ length: count }, (_, i) => i);

  beforeAll(async () => {
    dir = tempDir();
    // a re-ask is a miss at once here (by default only once the chunk went out 10 s before: it may be on its way)
    hub = await startTestHub(dir.path, { multicast: { multicastRepairAfterMs: 0 } });
    api = apiClient(hub.urls.http, hub.adminToken);
    for (const id of ['mc-a', 'mc-b', 'mc-late', 'mc-other']) await connect(id);
    expect((await api.pushModel(model, { name: 'big', version: '1.0.0' })).status).toBe(201);
    expect((await api.pushModel(tinyModel(3), { name: 'small', version: '1.0.0' })).status).toBe(201);
    expect((await api.post('/rollouts', { model: 'big', version: '1.0.0', targets: { devices: ['mc-a', 'mc-b', 'mc-late'] }, waves: [100], soak: 0 })).status).toBe(201);
    expect((await api.post('/rollouts', { model: 'small', version: '1.0.0', targets: { devices: ['mc-other'] }, waves: [100], soak: 0 })).status).toBe(201);
  });
  afterAll(async () => {
    for (const d of devs.values()) await endClient(d.client);
    await hub.close();
    dir.remove();
  });

  it('refuses the multicast subscription to a device whose desired state does not name the artifact', async () => {
    const refused = () => hub.metrics.get('edgefleet_mqtt_connections_refused_total', { reason: 'subscribe_denied' });
    const before = refused();
    expect(await subscribeMulticast(devs.get('mc-other')!)).toBe(128);
    expect(refused()).toBe(before + 1);
    // a wildcard over every artifact is refused too
    expect(await subscribe(devs.get('mc-other')!, 'ef/v1/artifacts/+/data')).toBe(128);
  });

  it('publishes each chunk once to every device naming the artifact; frames re-assemble exactly', async () => {
    const a = devs.get('mc-a')!;
    const b = devs.get('mc-b')!;
    // the rollout's desired states may still be on their way: subscribe once the hub names the artifact
    await waitFor(async () => (await subscribeMulticast(a)) !== 128, 'mc-a may subscribe');
    await waitFor(async () => (await subscribeMulticast(b)) !== 128, 'mc-b may subscribe');
    const mc0 = hub.metrics.get('edgefleet_artifact_multicast_frames_total');
    await request('mc-a', all);
    await request('mc-b', all); // the same chunks: already queued for, or sent on, the multicast
    await waitFor(() => indices(a.multicast).size === count && indices(b.multicast).size === count, 'every chunk on the multicast topic');
    expect(hub.metrics.get('edgefleet_artifact_multicast_frames_total') - mc0).toBe(count);
    expect(a.unicast).toHaveLength(0);
    expect(b.unicast).toHaveLength(0);
    const parts = new Map<number, Uint8Array>();
    for (const f of b.multicast) {
      const d = decodeChunkFrame(f);
      if (!d.ok) throw new Error(d.message);
      expect(d.value.sha256).toBe(sha);
      parts.set(d.value.index, d.value.data);
    }
    const whole = Buffer.concat([...parts.entries()].sort((x, y) => x[0] - y[0]).map(([, d]) => d));
    expect(whole.equals(Buffer.from(model))).toBe(true);
  });

  it('unicasts a chunk a subscribed device asks for again (it missed the multicast)', async () => {
    const b = devs.get('mc-b')!;
    await request('mc-b', [1]);
    await waitFor(() => indices(b.unicast).has(1), 'chunk 1 unicast');
    expect([...indices(b.unicast)]).toEqual([1]);
  });

  it('brings a late joiner what went by before it subscribed in the next carousel round, not by unicast, and only what it asks for', async () => {
    const late = devs.get('mc-late')!;
    await waitFor(async () => (await subscribeMulticast(late)) !== 128, 'mc-late may subscribe');
    const mc0 = hub.metrics.get('edgefleet_artifact_multicast_frames_total');
    // a window first: the carousel brings those, not the chunks it has not asked for (a resumed download has them)
    await request('mc-late', all.slice(0, 4));
    await waitFor(() => indices(late.multicast).size === 4, 'late joiner has its first window');
    await new Promise((r) => setTimeout(r, 300));
    expect([...indices(late.multicast)].sort((a, b) => a - b)).toEqual(all.slice(0, 4));
    await request('mc-late', all.slice(4));
    await waitFor(() => indices(late.multicast).size === count, 'late joiner has every chunk');
    expect(hub.metrics.get('edgefleet_artifact_multicast_frames_total') - mc0).toBe(count);
    expect(late.unicast).toHaveLength(0);
  });

  it('still serves a device that does not listen on the multicast topic by unicast', async () => {
    const token = (await api.post('/devices', { id: 'mc-alone' })).body.token as string;
    expect((await api.post('/rollouts', { model: 'big', version: '1.0.0', targets: { devices: ['mc-alone'] }, waves: [100], soak: 0 })).status).toBe(201);
    const client = await connectDevice(hub.urls.mqtt!, 'mc-alone', token);
    const d: Dev = { client, multicast: [], unicast: [] };
    devs.set('mc-alone', d);
    client.on('message', (topic, payload) => topic === topics.artifactData('mc-alone') && d.unicast.push(payload));
    await client.subscribeAsync(topics.artifactData('mc-alone'), { qos: 1 });
    await waitFor(async () => {
      await request('mc-alone', all);
      await new Promise((r) => setTimeout(r, 100));
      return indices(d.unicast).size === count;
    }, 'unicast download');
  });
});
