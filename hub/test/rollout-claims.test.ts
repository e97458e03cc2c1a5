// A gated rollout counts a device converged only when its reported version is consistent with what the hub
// knows (design §7): the device fetched that artifact from the hub, or its telemetry since the send names the
// version. A bare claim leaves the device pending and, past a grace period, is reported (event + counter).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { createWindow, histogramAdd, topics } from '@edgefleet/protocol';
import type { Hub } from '@edgefleet/hub';
import { apiClient, connectDevice, endClient, startTestHub, tempDir, tinyModel, waitFor } from './helpers.js';
import { reportedState } from './dashboard-support.js';

const MINUTE = 60_000;

describe('rollout convergence claims', () => {
  let hub: Hub;
  let dir: ReturnType<typeof tempDir>;
  let api: ReturnType<typeof apiClient>;
  let clock = Date.now();
  const clients: Record<string, MqttClient> = {};
  let version: { release: number; sha256: string };

  beforeAll(async () => {
    dir = tempDir();
    hub = await startTestHub(dir.path, { ws: null, now: () => new Date(clock), rolloutTickMs: 50, alarms: false });
    api = apiClient(hub.urls.http, hub.adminToken);
    const pushed = await api.pushModel(tinyModel(), { name: 'tiny', version: '1.0.0' });
    expect(pushed.status).toBe(201);
    version = { release: pushed.body.manifest.release, sha256: pushed.body.manifest.artifact.sha256 };
    for (const id of ['dev-honest', 'dev-liar']) {
      const token = (await api.post('/devices', { id })).body.token as string;
      clients[id] = await connectDevice(hub.urls.mqtt!, id, token);
    }
  });
  afterAll(async () => {
    await Promise.all(Object.values(clients).map(endClient));
    await hub.close();
    dir.remove();
  });

  const claim = (id: string) =>
    clients[id]!.publishAsync(topics.reported(id), JSON.stringify(reportedState(id, { tiny: { version: '1.0.0', ...version } })), { qos: 1, retain: true });
  const outcomes = async (rolloutId: string) => (await api.get(`/rollouts/${rolloutId}`)).body.rollout.waves[0].byOutcome as Record<string, string[]>;

  it('counts the device that fetched the artifact, not the one that only claims it, and reports the claim', async () => {
    const r = await api.post('/rollouts', { model: 'tiny', version: '1.0.0', targets: { devices: ['dev-honest', 'dev-liar'] }, waves: [100], soak: '1h' });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const id = r.body.rollout.id as string;

    // the honest device fetches every chunk (the tiny model is one chunk) over MQTT, then reports it active
    const honest = clients['dev-honest']!;
    await honest.subscribeAsync(topics.artifactData('dev-honest'), { qos: 1 });
    const frame = new Promise<void>((resolve) => honest.once('message', () => resolve()));
    await honest.publishAsync(topics.artifactGet('dev-honest'), JSON.stringify({ sha256: version.sha256, chunks: [0] }), { qos: 1 });
    await frame;
    await claim('dev-honest');
    await claim('dev-liar');
    await waitFor(async () => (await hub.flush(), (await outcomes(id)).converged!.includes('dev-honest')), 'the honest device converged');
    // several engine steps later the liar is still not converged
    for (let i = 0; i < 3; i++) await hub.services.rollouts.tick();
    expect((await outcomes(id)).converged).toEqual(['dev-honest']);
    expect(hub.metrics.get('edgefleet_unbacked_claims_total', { model: 'tiny' })).toBe(0);

    // past the grace period the inconsistent claim is reported, once
    clock += 6 * MINUTE;
    await waitFor(() => hub.metrics.get('edgefleet_unbacked_claims_total', { model: 'tiny' }) === 1, 'the claim reported');
    const events = (await api.get('/devices/dev-liar')).body.events as Array<{ type: string; code: string; message: string }>;
    expect(events).toEqual([expect.objectContaining({ type: 'error', code: 'CONFLICT', message: expect.stringContaining('never fetched') })]);
    expect((await outcomes(id)).converged).toEqual(['dev-honest']);
    for (let i = 0; i < 3; i++) await hub.services.rollouts.tick();
    expect(hub.metrics.get('edgefleet_unbacked_claims_total', { model: 'tiny' })).toBe(1);
  });

  it('believes a claim its own telemetry since the send backs (an artifact from a CDN)', async () => {
    const rollout = (await api.get('/rollouts')).body.rollouts[0];
    const start = Math.floor(clock / MINUTE) * MINUTE;
    const w = createWindow('tiny', '1.0.0', 'active', start, start + MINUTE);
    histogramAdd(w.latencyMs, 3);
    w.inferences = 1;
    await clients['dev-liar']!.publishAsync(topics.telemetry('dev-liar'), JSON.stringify({ deviceId: 'dev-liar', seq: 1, windows: [w], dropped: 0 }), { qos: 1 });
    await waitFor(async () => (await hub.flush(), (await outcomes(rollout.id)).converged!.length === 2), 'both converged');
  });

  it('leaves a claimed version no release of this hub out of fleet status, and counts the claim', async () => {
    const before = (await api.get('/fleet/status')).body;
    expect(before.versions).toEqual([{ model: 'tiny', version: '1.0.0', devices: 2 }]);
    expect(before.unknownClaims).toBe(0);
    // one device claims a version never pushed, the other the right version with another artifact
    await clients['dev-liar']!.publishAsync(
      topics.reported('dev-liar'),
      JSON.stringify(reportedState('dev-liar', { tiny: { version: '9.9.9', release: 99, sha256: version.sha256 } })),
      { qos: 1, retain: true },
    );
    await clients['dev-honest']!.publishAsync(
      topics.reported('dev-honest'),
      JSON.stringify(reportedState('dev-honest', { tiny: { version: '1.0.0', release: version.release, sha256: '0'.repeat(64) } })),
      { qos: 1, retain: true },
    );
    await waitFor(async () => (await hub.flush(), (await api.get('/fleet/status')).body.unknownClaims === 2), 'both claims counted');
    expect((await api.get('/fleet/status')).body.versions).toEqual([]);
  });
});
