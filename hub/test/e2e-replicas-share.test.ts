// A dead replica's share of the device → hub messages (design §8). Mosquitto hands a shared subscription's
// messages to each member session in turn, connected or not, and drops what it queued for a session when that
// expires; the replicas' sessions are short-lived (`--broker-session-expiry`, broker/external.ts) so that the
// live replica soon gets everything. Two replica processes on one PostgreSQL and one Mosquitto: replica a is
// killed; the telemetry devices sent meanwhile is re-sent by them (it waits in their outbox until a hub
// confirms it) and stored by replica b while a stays dead; once a's session has expired every message reaches
// b on its first send; a, back, stores nothing twice.
import { existsSync } from 'node:fs';
import mqtt from 'mqtt';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Agent } from '@edgefleet/agent';
import { topics, type DeviceEvent } from '@edgefleet/protocol';
import { startPostgres, type PostgresServer } from '../../scripts/sim/postgres.js';
import { apiClient, endClient, tempDir, tinyModel, waitFor } from './helpers.js';
import { MOSQUITTO, killHard, leads, spawnHub, startBrokerAgents, startMosquitto, startReplicaPair, type HubProcess, type MosquittoProcess } from './processes.js';
import { agentTelemetry, drainTelemetry, ledgerMismatches } from './support/telemetry-ledger.js';

const HUB_PASSWORD = 'hub-secret-for-tests-only';
const AGENTS = 4;
/** Seconds the broker keeps a replica's session once it is gone. */
const EXPIRY = 3;
const EVENTS = 10;

/** Device events stored for `deviceId` whose message starts with `tag`. */
async function storedEvents(db: string, deviceId: string, tag: string): Promise<number> {
  const client = new pg.Client({ connectionString: db });
  await client.connect();
  try {
    const r = await client.query<{ n: string }>('SELECT COUNT(*) AS n FROM events WHERE device_id = $1 AND message LIKE $2', [deviceId, `${tag}-%`]);
    return Number(r.rows[0]!.n);
  } finally {
    await client.end();
  }
}

describe.skipIf(!existsSync(MOSQUITTO))("a dead replica's share of device messages", () => {
  const dir = tempDir('edgefleet-replicas-share-');
  let server: PostgresServer | undefined;
  let broker: MosquittoProcess | undefined;
  let device: mqtt.MqttClient | undefined;
  const hubs: HubProcess[] = [];
  const agents: Agent[] = [];
  afterEach(async () => {
    await endClient(device);
    await Promise.all(agents.splice(0).map((a) => a.stop()));
    for (const h of hubs.splice(0)) await killHard(h);
    await broker?.stop();
  });
  afterAll(async () => {
    await server?.stop();
    dir.remove();
  });

  it('goes to the live replica once the dead one’s session expired; what it held is re-sent and stored once', async () => {
    server = await startPostgres();
    const db = await server.createDatabase();
    broker = await startMosquitto(dir.path, HUB_PASSWORD, [], { hubUsers: ['edgefleet_hub_a', 'edgefleet_hub_b'] });
    const pair = await startReplicaPair({ dir: dir.path, db, broker, replicas: ['a', 'b'], extra: ['--broker-session-expiry', String(EXPIRY)] }, hubs);
    const api = apiClient(pair.second.urls.http!, pair.token);
    const configs: unknown[] = [];
    for (let i = 0; i <= AGENTS; i++) {
      const added = await api.post('/devices', { id: `dev-${i}` });
      expect(added.status).toBe(201);
      configs.push(added.body.agentConfig);
    }
    expect((await api.pushModel(tinyModel(0), { name: 'tiny', version: '1.0.0' })).status).toBe(201);
    expect((await api.post('/rollouts', { model: 'tiny', version: '1.0.0', targets: { all: true }, waves: [100], soak: '0s' })).status).toBe(201);
    // dev-0 .. dev-3 run agents; dev-4 is a bare MQTT client that sends device events (which no outbox keeps)
    await startBrokerAgents(configs.slice(0, AGENTS), dir.path, agents);
    for (const agent of agents) await agent.core.waitFor(() => agent.core.slots().tiny?.active?.version === '1.0.0', 60_000);
    const ev = configs[AGENTS] as { deviceId: string; password: string; brokers: { tcp: string } };
    device = await mqtt.connectAsync(ev.brokers.tcp, { clientId: ev.deviceId, username: ev.deviceId, password: ev.password, reconnectPeriod: 200 });
    let at = Date.now();
    const sendEvents = async (tag: string) => {
      for (let i = 0; i < EVENTS; i++) {
        const event: DeviceEvent = { type: 'error', message: `${tag}-${i}`, at: new Date(at++).toISOString() };
        await device!.publishAsync(topics.events(ev.deviceId), JSON.stringify(event), { qos: 1 });
      }
    };
    const sendTelemetry = async (rounds: number) => {
      for (let r = 0; r < rounds; r++) {
        for (const agent of agents) {
          for (let k = 0; k < 3; k++) await agent.core.infer('tiny', { inputs: [{ name: 'features', shape: [1, 3], datatype: 'FP32', data: [k, r, -k] }] });
          await agent.core.flushTelemetry();
        }
      }
    };
    const resent = () => agents.reduce((n, a) => n + agentTelemetry(a).resent, 0);

    // both up: everything is stored once
    await sendTelemetry(2);
    await drainTelemetry(agents);
    expect(await ledgerMismatches(db, agents)).toEqual([]);

    // replica a dies; what the devices send next is split between its session (queued, not delivered) and b
    await killHard(pair.first);
    const resentBefore = resent();
    await sendTelemetry(2);
    await sendEvents('while-expiring');
    await waitFor(() => broker!.log().includes('Expiring client edgefleet_hub_a'), "replica a's session expired", 30_000);
    // the batches its session held are lost with it; the agents send them again, and b stores them, a still dead
    await drainTelemetry(agents, 30_000);
    expect(pair.first.child.signalCode).toBe('SIGKILL');
    expect(await ledgerMismatches(db, agents)).toEqual([]);
    expect(resent()).toBeGreaterThan(resentBefore);
    const lostEvents = EVENTS - (await storedEvents(db, ev.deviceId, 'while-expiring'));
    console.log(`while a's session lived: ${resent() - resentBefore} telemetry batches re-sent and stored by b; ${lostEvents} of ${EVENTS} device events lost with the session`);

    // with a's session gone, b is the share group: each message reaches it on its first send
    const resentAfterExpiry = resent();
    await sendEvents('after-expiry');
    await waitFor(async () => (await storedEvents(db, ev.deviceId, 'after-expiry')) === EVENTS, 'every event sent after the expiry stored by b', 30_000);
    await sendTelemetry(2);
    await drainTelemetry(agents, 30_000);
    expect(await ledgerMismatches(db, agents)).toEqual([]);
    console.log(`after a's session expired: ${resent() - resentAfterExpiry} telemetry batches re-sent`);
    expect(pair.first.child.signalCode).toBe('SIGKILL');

    // a comes back (a new session: nothing queued for it) and shares again; nothing is stored twice
    const back = await spawnHub(pair.args('a'), false);
    hubs.push(back);
    await waitFor(async () => (await leads(back.urls.http!, pair.token)) === false, 'replica a back, following');
    await sendTelemetry(2);
    await sendEvents('back');
    await waitFor(async () => (await storedEvents(db, ev.deviceId, 'back')) === EVENTS, 'every event sent with both up stored', 30_000);
    await drainTelemetry(agents, 30_000);
    expect(await ledgerMismatches(db, agents)).toEqual([]);
    expect(await storedEvents(db, ev.deviceId, 'after-expiry')).toBe(EVENTS);
    expect(await storedEvents(db, ev.deviceId, 'while-expiring')).toBe(EVENTS - lostEvents);
  }, 180_000);
});
