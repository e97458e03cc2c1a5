// Mosquitto killed with SIGKILL (persistence false) while it holds telemetry it already acknowledged to a
// device but not yet delivered to the hub (design §4 telemetry `confirm`): the agent keeps those batches
// until the hub confirms their seqs, sends them again after the reconnect or the timeout, and the hub
// stores every window the agent produced exactly once. A real hub in --broker mode, a real agent.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { startHub, type Hub } from '@edgefleet/hub';
import { createAgent, type Agent } from '@edgefleet/agent';
import { Command, createWindow, topics } from '@edgefleet/protocol';
import { apiClient, connectDevice, endClient, tempDir, tinyModel, waitFor } from './helpers.js';
import { MOSQUITTO, startMosquitto, type MosquittoProcess } from './processes.js';

const HUB_PASSWORD = 'hub-secret-for-tests-only';
const DEVICE = 'dev-confirm';

function storedAt(hubDir: string): { windows: number; inferences: number } {
  const db = new Database(join(hubDir, 'hub.db'), { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare<[string], { windows: number; inferences: number | null }>('SELECT COUNT(*) AS windows, SUM(inferences) AS inferences FROM telemetry_windows WHERE device_id = ?')
      .get(DEVICE) as { windows: number; inferences: number };
  } finally {
    db.close();
  }
}

describe.skipIf(!existsSync(MOSQUITTO))('Mosquitto killed while it queues acknowledged telemetry for the hub', () => {
  let dir: ReturnType<typeof tempDir> | undefined;
  let broker: MosquittoProcess | undefined;
  let hub: Hub | undefined;
  let agent: Agent | undefined;
  afterEach(async () => {
    await agent?.stop();
    await hub?.close();
    await broker?.stop();
    dir?.remove();
    dir = broker = hub = agent = undefined;
  });

  it('every window the agent produced is stored at the hub exactly once', async () => {
    dir = tempDir('edgefleet-confirm-');
    const hubDir = join(dir.path, 'hub');
    broker = await startMosquitto(dir.path, HUB_PASSWORD);
    const port = broker.port;
    const hubOptions = {
      dataDir: hubDir,
      http: '127.0.0.1:0',
      broker: broker.hubUrl,
      mosquittoPasswordFile: broker.passwd,
      mosquittoPidFile: broker.pidFile,
      telemetry: { windowSeconds: 1 },
      log: () => {},
    };
    hub = await startHub(hubOptions);
    const http = new URL(hub.urls.http).host;
    const api = apiClient(hub.urls.http, hub.adminToken);
    const added = await api.post('/devices', { id: DEVICE });
    expect(added.status).toBe(201);
    expect((await api.pushModel(tinyModel(), { name: 'tiny', version: '1.0.0' })).status).toBe(201);
    expect((await api.post('/rollouts', { model: 'tiny', version: '1.0.0', targets: { devices: [DEVICE] } })).status).toBe(201);

    agent = createAgent(added.body.agentConfig, {
      dataDir: join(dir.path, 'agent'),
      api: false,
      reconnect: { initialMs: 50, maxMs: 500 },
      core: { retry: { baseMs: 100, maxMs: 1000 }, telemetryConfirmTimeoutMs: 2000 },
    });
    await agent.start();
    const core = agent.core;
    await core.waitFor(() => core.slots().tiny?.active?.version === '1.0.0', 30_000);
    let inferences = 0;
    const infer = async (n: number) => {
      for (let i = 0; i < n; i++) {
        await core.infer('tiny', { inputs: [{ name: 'features', shape: [1, 3], datatype: 'FP32', data: [i, 1, -i] }] });
        inferences++;
      }
    };
    const windowsSent = () => core.counters.windowsSent ?? 0;

    // the hub stored what came while it was up
    await infer(5);
    await core.flushTelemetry();
    await waitFor(() => windowsSent() >= 1 && storedAt(hubDir).windows >= 1, 'first window stored', 20_000);

    // the hub is away: Mosquitto acknowledges the agent's batches and queues them in the hub's session
    await hub.close();
    hub = undefined;
    const before = windowsSent();
    for (let round = 0; round < 3; round++) {
      await infer(4);
      await core.flushTelemetry();
    }
    await waitFor(() => windowsSent() >= before + 3, 'batches acknowledged by mosquitto', 20_000);
    expect(storedAt(hubDir).windows).toBeLessThan(core.counters.windowsQueued ?? 0);

    // SIGKILL: what mosquitto queued for the hub is gone; it comes back on the port the agent knows
    await broker.kill();
    broker = await startMosquitto(dir.path, HUB_PASSWORD, [], { port, keepPasswordFile: true });
    hub = await startHub({ ...hubOptions, http });
    await infer(3);
    await core.flushTelemetry();

    const produced = () => core.counters.windowsQueued ?? 0;
    await waitFor(() => storedAt(hubDir).inferences >= inferences, 'every inference stored at the hub', 30_000).catch(() => undefined);
    // confirmed: nothing left waiting in the agent's outbox
    await waitFor(() => core.counters.batchesConfirmed !== undefined && core.counters.batchesConfirmed >= core.counters.batchesSent!, 'every batch confirmed', 20_000).catch(
      () => undefined,
    );
    const s = storedAt(hubDir);
    // a lost batch shows as missing windows and inferences, a batch counted twice as extra ones
    expect({ windows: s.windows, inferences: s.inferences }).toEqual({ windows: produced(), inferences });
    // confirmations are coalesced commands, routine, so none of them is in the audit log
    expect(core.counters.telemetryConfirms).toBeGreaterThan(0);
    expect(core.counters.telemetryConfirms).toBeLessThanOrEqual(core.counters.batchesSent!);
    const db = new Database(join(hubDir, 'hub.db'), { readonly: true });
    try {
      expect(db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM audit WHERE action = 'command.send'").get()!.n).toBe(0);
    } finally {
      db.close();
    }
  }, 120_000);

  // Mosquitto 2.0 restores the hub's persisted session after a restart without its shared subscriptions
  // (`$share/edgefleet/...`, design §8), and says the session is present, so mqtt.js does not subscribe again:
  // the hub was connected and deaf (found by `npm run chaos -- --only broker-restart`).
  it('after a restart that restores the persisted sessions, the hub hears the devices again', async () => {
    dir = tempDir('edgefleet-persist-');
    const persistenceDir = join(dir.path, 'mosquitto-db');
    mkdirSync(persistenceDir);
    broker = await startMosquitto(dir.path, HUB_PASSWORD, [], { persistenceDir });
    const port = broker.port;
    hub = await startHub({
      dataDir: join(dir.path, 'hub'),
      http: '127.0.0.1:0',
      broker: broker.hubUrl,
      mosquittoPasswordFile: broker.passwd,
      mosquittoPidFile: broker.pidFile,
      telemetry: { windowSeconds: 1 },
      log: () => {},
    });
    const hubDir = join(dir.path, 'hub');
    const api = apiClient(hub.urls.http, hub.adminToken);
    const added = await api.post('/devices', { id: DEVICE });
    expect((await api.pushModel(tinyModel(), { name: 'tiny', version: '1.0.0' })).status).toBe(201);
    expect((await api.post('/rollouts', { model: 'tiny', version: '1.0.0', targets: { devices: [DEVICE] } })).status).toBe(201);
    agent = createAgent(added.body.agentConfig, {
      dataDir: join(dir.path, 'agent'),
      api: false,
      reconnect: { initialMs: 50, maxMs: 500 },
      core: { retry: { baseMs: 100, maxMs: 1000 }, telemetryConfirmTimeoutMs: 2000 },
    });
    await agent.start();
    const core = agent.core;
    await core.waitFor(() => core.slots().tiny?.active?.version === '1.0.0', 30_000);
    let inferences = 0;
    const inferAndFlush = async (n: number) => {
      for (let i = 0; i < n; i++, inferences++) await core.infer('tiny', { inputs: [{ name: 'features', shape: [1, 3], datatype: 'FP32', data: [i, 1, -i] }] });
      await core.flushTelemetry();
    };
    await inferAndFlush(3);
    await waitFor(() => storedAt(hubDir).inferences >= inferences, 'telemetry stored before the restart', 20_000);

    // SIGTERM: Mosquitto saves its sessions and restores them on the next start
    await broker.stop();
    broker = await startMosquitto(dir.path, HUB_PASSWORD, [], { port, keepPasswordFile: true, persistenceDir });
    await inferAndFlush(4);
    await waitFor(() => storedAt(hubDir).inferences >= inferences, 'telemetry stored after the restart', 30_000).catch(() => undefined);
    expect(storedAt(hubDir).inferences).toBe(inferences);
  }, 120_000);

  it('confirms only batches that ask for it, by seq ranges in signed, unaudited commands; a device that does not ask gets none', async () => {
    dir = tempDir('edgefleet-confirm-');
    broker = await startMosquitto(dir.path, HUB_PASSWORD);
    hub = await startHub({ dataDir: join(dir.path, 'hub'), http: '127.0.0.1:0', broker: broker.hubUrl, mosquittoPasswordFile: broker.passwd, mosquittoPidFile: broker.pidFile, log: () => {} });
    const api = apiClient(hub.urls.http, hub.adminToken);
    const token = (await api.post('/devices', { id: 'dev-raw' })).body.token as string;
    const client = await waitFor(() => connectDevice(`mqtt://127.0.0.1:${broker!.port}`, 'dev-raw', token).catch(() => null), 'device connects');
    try {
      const commands: Command[] = [];
      client.on('message', (_t, payload) => {
        const env = JSON.parse(payload.toString()) as { payload: string };
        commands.push(Command.parse(JSON.parse(Buffer.from(env.payload, 'base64').toString())));
      });
      await client.subscribeAsync(topics.command('dev-raw'), { qos: 1 });
      const w = { ...createWindow('tiny', '1.0.0', 'active', Date.now() - 1000, Date.now()), inferences: 1 };
      // an older device (no `confirm`) and then three that ask; batch 5 never sent
      await client.publishAsync(topics.telemetry('dev-raw'), JSON.stringify({ deviceId: 'dev-raw', seq: 1, windows: [w], dropped: 0 }), { qos: 1 });
      for (const seq of [2, 3, 6]) await client.publishAsync(topics.telemetry('dev-raw'), JSON.stringify({ deviceId: 'dev-raw', seq, windows: [w], dropped: 0, confirm: true }), { qos: 1 });
      await waitFor(() => commands.some((c) => c.telemetryRanges?.some(([, to]) => to >= 6)), 'confirmation of seq 6', 20_000);
      const seqs = commands.flatMap((c) => (c.telemetryRanges ?? []).flatMap(([from, to]) => Array.from({ length: to - from + 1 }, (_, i) => from + i)));
      expect(commands.every((c) => c.action === 'telemetry-confirm')).toBe(true);
      expect([...new Set(seqs)].sort((a, b) => a - b)).toEqual([2, 3, 6]);
      expect(commands.at(-1)!.telemetrySeq).toBe(6);
      const db = new Database(join(dir.path, 'hub', 'hub.db'), { readonly: true });
      try {
        expect(db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM audit WHERE action = 'command.send'").get()!.n).toBe(0);
      } finally {
        db.close();
      }
    } finally {
      await endClient(client);
    }
  });
});
