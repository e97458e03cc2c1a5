// Two hub replicas (design §8) on one Mosquitto 2 over MQTT 5, each its own process, client id and broker
// user: they stay connected side by side, the agents' telemetry is split between them through the shared
// subscription (each gets some, together exactly what the agents produced, nothing twice), and every
// device's status and reported state lands. Each replica has its own data dir here (a copy made before
// both start: same keys, devices and desired states); one shared database is the PostgreSQL backend's part.
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { Agent } from '@edgefleet/agent';
import { startHub, type Hub } from '@edgefleet/hub';
import { topics } from '@edgefleet/protocol';
import { apiClient, connectDevice, endClient, tempDir, tinyModel, waitFor } from './helpers.js';
import { MOSQUITTO, killHard, spawnHub, startBrokerAgents, startMosquitto, type HubProcess, type MosquittoProcess } from './processes.js';

const HUB_PASSWORD = 'hub-secret-for-tests-only';
const REPLICAS = ['a', 'b'] as const;
const AGENTS = 6;
const ROUNDS = 4; // telemetry batches per agent

interface Stored {
  batches: Array<{ device_id: string; seq: number }>;
  windows: number;
  inferences: number;
  devices: Array<{ id: string; status: string; reported: string | null }>;
}

function stored(dataDir: string): Stored {
  const db = new Database(join(dataDir, 'hub.db'), { readonly: true, fileMustExist: true });
  try {
    const w = db.prepare<[], { windows: number; inferences: number | null }>('SELECT COUNT(*) AS windows, SUM(inferences) AS inferences FROM telemetry_windows').get()!;
    return {
      batches: db.prepare<[], { device_id: string; seq: number }>('SELECT device_id, seq FROM telemetry_batches').all(),
      windows: w.windows,
      inferences: w.inferences ?? 0,
      devices: db.prepare<[], { id: string; status: string; reported: string | null }>('SELECT id, status, reported FROM devices').all(),
    };
  } finally {
    db.close();
  }
}

/** `edgefleet_broker_connections_total{event}` of a replica, from its /metrics. */
async function connections(http: string, token: string, event: 'connect' | 'close'): Promise<number> {
  const text = await (await fetch(`${http}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
  const m = new RegExp(`^edgefleet_broker_connections_total\\{event="${event}"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

describe.skipIf(!existsSync(MOSQUITTO))('two hub replicas on one Mosquitto (MQTT 5, shared subscriptions)', () => {
  const dir = tempDir('edgefleet-replicas-');
  let broker: MosquittoProcess | undefined;
  const hubs: HubProcess[] = [];
  const agents: Agent[] = [];
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await Promise.all(hubs.map((h) => killHard(h)));
    await broker?.stop();
    dir.remove();
  });

  it('both stay connected, split the telemetry with nothing lost or doubled, and every status and report lands', async () => {
    broker = await startMosquitto(dir.path, HUB_PASSWORD, ['max_queued_messages 100000'], { hubUsers: REPLICAS.map((r) => `edgefleet_hub_${r}`) });
    const data = (r: string) => join(dir.path, `hub-${r}`);
    const args = (r: string) => [
      '--data', data(r), '--http', '127.0.0.1:0', '--broker', broker!.hubUrlFor(`edgefleet_hub_${r}`), '--replica-id', r,
      '--mosquitto-password-file', broker!.passwd, '--mosquitto-pid-file', broker!.pidFile,
    ];

    // replica a registers the fleet and starts the rollout, then its data dir is copied for replica b
    const first = await spawnHub(args('a'), false);
    hubs.push(first);
    const token = readFileSync(join(data('a'), 'admin-token'), 'utf8').trim();
    const api = apiClient(first.urls.http!, token);
    const ids = Array.from({ length: AGENTS }, (_, i) => `dev-rep-${i}`);
    const configs: unknown[] = [];
    for (const id of ids) {
      const added = await api.post('/devices', { id });
      expect(added.status).toBe(201);
      configs.push(added.body.agentConfig);
    }
    expect((await api.pushModel(tinyModel(), { name: 'tiny', version: '1.0.0' })).status).toBe(201);
    expect((await api.post('/rollouts', { model: 'tiny', version: '1.0.0', targets: { all: true }, waves: [100], soak: '0s' })).status).toBe(201);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    hubs.length = 0;
    cpSync(data('a'), data('b'), { recursive: true });
    for (const r of REPLICAS) hubs.push(await spawnHub(args(r), false));
    const [a, b] = hubs as [HubProcess, HubProcess];
    // each replica wrote the password file keeping the other's user
    const users = readFileSync(broker.passwd, 'utf8');
    for (const r of REPLICAS) expect(users).toMatch(new RegExp(`^edgefleet_hub_${r}:\\$7\\$`, 'm'));

    // no kick-off loop: over a few seconds each replica connected once and never lost its connection
    await new Promise((r) => setTimeout(r, 3000));
    for (const h of hubs) {
      expect(await connections(h.urls.http!, token, 'connect')).toBe(1);
      expect(await connections(h.urls.http!, token, 'close')).toBe(0);
    }
    expect(broker.log()).not.toMatch(/edgefleet_hub_[ab] already connected/);

    // the agents install through artifact requests either replica serves, infer, and send telemetry
    let inferences = 0;
    await startBrokerAgents(configs, dir.path, agents);
    for (const agent of agents) await agent.core.waitFor(() => agent.core.slots().tiny?.active?.version === '1.0.0', 60_000);
    for (let round = 0; round < ROUNDS; round++) {
      for (const agent of agents) {
        for (let k = 0; k <= round; k++) {
          await agent.core.infer('tiny', { inputs: [{ name: 'features', shape: [1, 3], datatype: 'FP32', data: [k, 1, -k] }] });
          inferences++;
        }
        await agent.core.flushTelemetry();
      }
    }
    // every batch confirmed by the replica that committed it: nothing left in any agent's outbox
    await waitFor(
      () => agents.every((g) => (g.core.counters.batchesSent ?? 0) >= ROUNDS && (g.core.counters.batchesConfirmed ?? 0) >= (g.core.counters.batchesSent ?? 0)),
      'every batch confirmed',
      60_000,
    );
    const produced = agents.reduce((n, g) => n + (g.core.counters.windowsQueued ?? 0), 0);
    const [sa, sb] = [stored(data('a')), stored(data('b'))];

    // split: each replica took some; together exactly what the agents produced, no (device, seq) in both
    expect(sa.windows).toBeGreaterThan(0);
    expect(sb.windows).toBeGreaterThan(0);
    expect(sa.windows + sb.windows).toBe(produced);
    expect(sa.inferences + sb.inferences).toBe(inferences);
    console.log(`telemetry windows: replica a ${sa.windows}, replica b ${sb.windows}, produced ${produced}`);
    const keys = [...sa.batches, ...sb.batches].map((x) => `${x.device_id}#${x.seq}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.length).toBe(agents.reduce((n, g) => n + (g.core.counters.batchesSent ?? 0), 0));

    // status is on every replica (not shared): both have every device online; the active report landed in one
    await waitFor(() => [data('a'), data('b')].every((d) => ids.every((id) => stored(d).devices.find((x) => x.id === id)?.status === 'online')), 'every device online on both');
    const activeReported = (s: Stored, id: string) => {
      const r = s.devices.find((d) => d.id === id)?.reported;
      return r ? (JSON.parse(r) as { models: Record<string, { active: { version: string } | null }> }).models.tiny?.active?.version === '1.0.0' : false;
    };
    for (const id of ids) expect(activeReported(sa, id) || activeReported(sb, id)).toBe(true);

    // still the one connection each, and neither replica logged a refused subscription
    for (const h of [a, b]) {
      expect(await connections(h.urls.http!, token, 'connect')).toBe(1);
      expect(h.stderr()).not.toMatch(/refused|FORBIDDEN/);
    }
  }, 180_000);

  it('a replica on a new session learns the retained status and report a device sent while no hub was there', async () => {
    const own = tempDir('edgefleet-replica-late-');
    const mq = await startMosquitto(own.path, HUB_PASSWORD, [], { hubUsers: ['edgefleet_hub_x', 'edgefleet_hub_y'] });
    const start = (r: string) =>
      startHub({ dataDir: join(own.path, 'hub'), http: '127.0.0.1:0', broker: mq.hubUrlFor(`edgefleet_hub_${r}`), replicaId: r, mosquittoPasswordFile: mq.passwd, mosquittoPidFile: mq.pidFile, log: () => {} });
    let hub: Hub | undefined;
    let device: Awaited<ReturnType<typeof connectDevice>> | undefined;
    try {
      hub = await start('x');
      const token = (await apiClient(hub.urls.http, hub.adminToken).post('/devices', { id: 'dev-late' })).body.token as string;
      await hub.close();
      hub = undefined;
      device = await waitFor(() => connectDevice(`mqtt://127.0.0.1:${mq.port}`, 'dev-late', token).catch(() => null), 'dev-late connects');
      const at = new Date().toISOString();
      await device.publishAsync(topics.status('dev-late'), 'online', { qos: 1, retain: true });
      await device.publishAsync(
        topics.reported('dev-late'),
        JSON.stringify({ deviceId: 'dev-late', agentVersion: '1.2.3', runtime: 'node', platform: 'linux-x64', desiredSequence: 0, keyringVersion: 1, models: {}, at }),
        { qos: 1, retain: true },
      );
      // replica y has never connected: nothing is queued for it, only the broker's retained copies tell it
      hub = await start('y');
      const h = hub;
      const api = apiClient(h.urls.http, h.adminToken);
      const d = await waitFor(async () => {
        await h.flush();
        const row = (await api.get('/devices/dev-late')).body.device as { status: string; reported: unknown };
        return row.status === 'online' && row.reported ? row : null;
      }, 'the retained status and report stored');
      expect(d.reported).toMatchObject({ agentVersion: '1.2.3', at });
    } finally {
      await endClient(device);
      await hub?.close();
      await mq.stop();
      own.remove();
    }
  });
});
