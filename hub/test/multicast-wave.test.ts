// A rollout wave rides the artifact multicast (design §4 `ef/v1/artifacts/{sha256}/data`): real agents, real
// aedes, and a real Mosquitto whose acl_file the hub writes. The hub's frames are counted, not timed: a wave
// costs about one multicast round per chunk (two at most), unicast only repairs what a device missed.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { startHub, type Hub } from '@edgefleet/hub';
import { DEFAULT_CHUNK_SIZE, sha256Hex, topics } from '@edgefleet/protocol';
import { createSimulatedFleet, type SimulatedFleet } from '../../scripts/sim/fleet.js';
import { sizedClassifier, trainVibrationModels } from '../../scripts/sim/models.js';
import { MOSQUITTO, startMosquitto, type MosquittoProcess } from './processes.js';
import { apiClient, connectDevice, endClient, startTestHub, tempDir, waitFor } from './helpers.js';
import { TEST_KEK, testDb } from './support/test-db.js';

const DEVICES = 20;
const model = sizedClassifier(1024 * 1024); // 16 chunks of 64 KiB
const sha = sha256Hex(model);
const count = Math.ceil(model.length / DEFAULT_CHUNK_SIZE);
const frames = (hub: Hub) => {
  const all = hub.metrics.get('edgefleet_artifact_chunks_sent_total');
  const multicast = hub.metrics.get('edgefleet_artifact_multicast_frames_total');
  return { all, multicast, unicast: all - multicast };
};
const push = (fleet: SimulatedFleet) => fleet.hub.pushModel({ name: 'wave', version: '1.0.0', file: model, validation: trainVibrationModels().v1.validation });

describe('a wave of real agents on the embedded broker', () => {
  let dir: ReturnType<typeof tempDir>;
  let hub: Hub;
  let fleet: SimulatedFleet;
  let late: SimulatedFleet | undefined;

  beforeAll(async () => {
    dir = tempDir();
    hub = await startTestHub(dir.path);
    fleet = await createSimulatedFleet({ hub: hub.urls.http, token: hub.adminToken, devices: DEVICES, rate: 0, dataDir: join(dir.path, 'fleet'), prefix: 'wave' });
  }, 120_000);
  afterAll(async () => {
    await late?.close();
    await fleet?.close();
    await hub?.close();
    dir?.remove();
  });

  it(`fetches an artifact to ${DEVICES} agents in at most two multicast rounds plus repairs`, async () => {
    await push(fleet);
    await fleet.hub.startRollout({ model: 'wave', version: '1.0.0', targets: { all: true }, waves: [100], soak: 0 });
    await fleet.waitForVersion('1.0.0', { model: 'wave', timeoutMs: 180_000 });
    const f = frames(hub);
    // before the carousel, a wave like this cost ~DEVICES × count frames, nearly all unicast
    expect(f.multicast).toBeGreaterThanOrEqual(count);
    expect(f.multicast).toBeLessThanOrEqual(2 * count);
    expect(f.unicast).toBeLessThanOrEqual((DEVICES * count) / 4);
    expect(f.all).toBe(f.multicast + f.unicast);
  }, 240_000);

  it('lets a device that joins after the wave complete it (a new carousel round or unicast repair)', async () => {
    const before = frames(hub);
    late = await createSimulatedFleet({ hub: hub.urls.http, token: hub.adminToken, devices: 1, rate: 0, dataDir: join(dir.path, 'late'), prefix: 'late', runtime: fleet.runtime });
    await late.waitForVersion('1.0.0', { model: 'wave', timeoutMs: 120_000 });
    const after = frames(hub);
    expect(after.all - before.all).toBeGreaterThanOrEqual(count);
    expect(after.all - before.all).toBeLessThanOrEqual(3 * count);
  }, 180_000);
});

const HUB_PASSWORD = 'hub-secret-for-tests-only';

describe.skipIf(!existsSync(MOSQUITTO))('a wave behind Mosquitto (--broker, the hub writes the ACL)', () => {
  let dir: ReturnType<typeof tempDir>;
  let broker: MosquittoProcess;
  let hub: Hub;
  let fleet: SimulatedFleet | undefined;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    dir = tempDir();
    broker = await startMosquitto(dir.path, HUB_PASSWORD);
    const db = await testDb(join(dir.path, 'hub'));
    hub = await startHub({
      dataDir: join(dir.path, 'hub'),
      ...(db ? { db, keys: { encryptionKey: TEST_KEK } } : {}),
      http: '127.0.0.1:0',
      broker: broker.hubUrl,
      mosquittoPasswordFile: broker.passwd,
      mosquittoPidFile: broker.pidFile,
      mosquittoAclFile: broker.aclFile,
    });
  }, 60_000);
  afterAll(async () => {
    for (const c of clients) await endClient(c);
    await fleet?.close();
    await hub?.close();
    await broker?.stop();
    dir?.remove();
  });

  it('grants the multicast topic only to devices whose desired state names the artifact; agents receive multicast frames', async () => {
    const api = apiClient(hub.urls.http, hub.adminToken);
    // a device outside the rollout, listening on the artifact's multicast topic (Mosquitto checks `read` on delivery)
    const outsider = (await api.post('/devices', { id: 'outsider', tags: { group: 'none' } })).body.token as string;
    const o = await waitFor(() => connectDevice(`mqtt://127.0.0.1:${broker.port}`, 'outsider', outsider).catch(() => null), 'outsider connects');
    clients.push(o);
    let outsiderFrames = 0;
    o.on('message', (t) => t === topics.artifactMulticast(sha) && outsiderFrames++);
    await o.subscribeAsync(topics.artifactMulticast(sha), { qos: 1 }).catch(() => undefined); // SUBACK 0x80 or granted-and-filtered

    fleet = await createSimulatedFleet({
      hub: hub.urls.http, token: hub.adminToken, devices: 5, rate: 0, dataDir: join(dir.path, 'fleet'), prefix: 'mqw',
      device: () => ({ tags: { group: 'wave' } }),
      agent: { reconnect: { initialMs: 50, maxMs: 500 }, core: { retry: { baseMs: 100, maxMs: 1000 }, telemetryConfirmTimeoutMs: 5000 } },
    });
    await push(fleet);
    await fleet.hub.startRollout({ model: 'wave', version: '1.0.0', targets: { tags: [{ group: 'wave' }] }, waves: [100], soak: 0 });
    await fleet.waitForVersion('1.0.0', { model: 'wave', timeoutMs: 180_000 });
    const acl = readFileSync(broker.aclFile, 'utf8');
    expect(acl).toContain(`user mqw-0\ntopic read ${topics.artifactMulticast(sha)}`);
    expect(acl).not.toContain('user outsider');
    const f = frames(hub);
    expect(f.multicast).toBeGreaterThanOrEqual(count);
    // devices received the multicast: five devices by unicast alone would take 5 × count frames
    expect(f.unicast).toBeLessThan(5 * count);
    expect(outsiderFrames).toBe(0);
  }, 240_000);
});
