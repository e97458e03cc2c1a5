// Two hub replicas on one PostgreSQL database and one Mosquitto 2 (MQTT 5), each its own process (design §8):
// an HTTP write to either replica has the same effect, one replica leads (rollout engine, alarms, upkeep),
// and when the leader is killed mid-soak (kill -9) or frozen (SIGSTOP) the other takes over and completes the
// gated rollout. Throughout, an observer records every desired state the broker delivers: each device's
// sequences strictly increase, and the retained one equals the database's row; the audit chain verifies; and
// the telemetry stored is the telemetry the devices had acknowledged, each window once.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Agent } from '@edgefleet/agent';
import { startPostgres, type PostgresServer } from '../../scripts/sim/postgres.js';
import { apiClient, tempDir, tinyModel, waitFor } from './helpers.js';
import { observeDesired } from './support/replicas.js';
import { agentTelemetry, drainTelemetry, ledgerMismatches, outboxFile } from './support/telemetry-ledger.js';
import { MOSQUITTO, killHard, leads, spawnHub, startBrokerAgents, startMosquitto, startReplicaPair, type HubProcess, type MosquittoProcess } from './processes.js';

const HUB_PASSWORD = 'hub-secret-for-tests-only';
const AGENTS = 20;

describe.skipIf(!existsSync(MOSQUITTO))('two hub replicas on one PostgreSQL database', () => {
  const dir = tempDir('edgefleet-replicas-pg-');
  let server: PostgresServer | undefined;
  let broker: MosquittoProcess | undefined;
  const hubs: HubProcess[] = [];
  const agents: Agent[] = [];
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.stop()));
    for (const h of hubs.splice(0)) {
      h.child.kill('SIGCONT');
      await killHard(h);
    }
    await broker?.stop();
    broker = undefined;
  });
  afterAll(async () => {
    await server?.stop();
    dir.remove();
  });

  for (const stop of ['SIGKILL', 'SIGSTOP'] as const) {
    it(`completes a gated rollout after its leader is ${stop === 'SIGKILL' ? 'killed (kill -9)' : 'frozen (SIGSTOP)'} mid-soak`, async () => {
      server ??= await startPostgres();
      const db = await server.createDatabase();
      const run = `${stop === 'SIGKILL' ? 'k' : 's'}`;
      const replicas = [`${run}a`, `${run}b`];
      const own = join(dir.path, run);
      mkdirSync(own, { recursive: true });
      broker = await startMosquitto(own, HUB_PASSWORD, ['max_queued_messages 100000'], { hubUsers: [...replicas.map((r) => `edgefleet_hub_${r}`), 'edgefleet_hub_obs'] });
      const pair = await startReplicaPair({ dir: own, db, broker, replicas: [replicas[0]!, replicas[1]!] }, hubs);
      const { first, second, token } = pair;
      const [a, b] = [apiClient(first.urls.http!, token), apiClient(second.urls.http!, token)];
      expect(await leads(second.urls.http!, token)).toBe(false);
      const observer = await observeDesired(broker.hubUrlFor('edgefleet_hub_obs'));

      // HTTP writes on either replica: devices added through both, models pushed and rollouts started on b
      const configs: unknown[] = [];
      for (let i = 0; i < AGENTS; i++) {
        const added = await (i % 2 ? b : a).post('/devices', { id: `dev-${run}-${i}`, tags: { ring: i < AGENTS / 2 ? 'one' : 'two' } });
        expect(added.status).toBe(201);
        configs.push(added.body.agentConfig);
      }
      expect((await a.get('/devices')).body.devices).toHaveLength(AGENTS);
      // one pinned root whichever replica enrolled the device (no keys were copied between them)
      expect(new Set(configs.map((c) => (c as { rootPublicKey: string }).rootPublicKey)).size).toBe(1);
      expect(existsSync(join(pair.dataDir(replicas[1]!), 'keys'))).toBe(false);
      expect((await b.patch(`/devices/dev-${run}-0`, { tags: { ring: 'one', site: 'x' } })).status).toBe(200);
      expect((await a.get(`/devices/dev-${run}-0`)).body.device.tags).toEqual({ ring: 'one', site: 'x' });
      expect((await b.pushModel(tinyModel(0), { name: 'tiny', version: '1.0.0' })).status).toBe(201);
      expect((await b.pushModel(tinyModel(1), { name: 'tiny', version: '2.0.0' })).status).toBe(201);
      expect((await b.post('/rollouts', { model: 'tiny', version: '1.0.0', targets: { all: true }, waves: [100], soak: '0s' })).status).toBe(201);

      // where the time goes (a shared CI machine's load shows here first)
      const begun = Date.now();
      const phases: string[] = [];
      const phase = (name: string) => phases.push(`${name} ${((Date.now() - begun) / 1000).toFixed(1)} s`);
      await startBrokerAgents(configs, own, agents);
      phase('agents started');
      for (const agent of agents) await agent.core.waitFor(() => agent.core.slots().tiny?.active?.version === '1.0.0', 60_000);
      phase('v1 active');

      // the devices keep inferring and reporting (the wave's gates judge their telemetry), whichever replica takes it
      let pumping = true;
      const pump = (async () => {
        while (pumping) {
          for (const agent of agents) {
            for (let k = 0; k < 5; k++) await agent.core.infer('tiny', { inputs: [{ name: 'features', shape: [1, 3], datatype: 'FP32', data: [k, 1, -k] }] }).catch(() => undefined);
            await agent.core.flushTelemetry().catch(() => undefined);
          }
          await new Promise((r) => setTimeout(r, 300));
        }
      })();

      // not a test of the gates: the latency gate is loosened (a loaded CI machine's p95 moves by itself), and a
      // wave without evidence passes at its soak's end
      const started = await b.post('/rollouts', { model: 'tiny', version: '2.0.0', targets: { all: true }, waves: [50, 100], soak: '4s', maxSoak: '4s', onNoEvidence: 'pass', gates: { maxP95RegressionPct: 10_000 } });
      expect(started.status).toBe(201);
      const id = started.body.rollout.id as string;
      // both replicas show the same rollout
      await waitFor(async () => (await a.get(`/rollouts/${id}`)).body.rollout?.status === 'soaking', 'wave 1 soaking', 60_000);
      expect((await b.get(`/rollouts/${id}`)).body.rollout.status).toBe('soaking');

      // the leader goes away mid-soak; the other replica takes the lead and finishes the rollout
      phase('wave 1 soaking');
      const t0 = Date.now();
      if (stop === 'SIGKILL') await killHard(first);
      else first.child.kill('SIGSTOP');
      await waitFor(() => leads(second.urls.http!, token), 'replica b leads', 30_000);
      const takeoverMs = Date.now() - t0;
      console.log(`${stop}: replica b leads ${takeoverMs} ms after replica a stopped`);
      // a's supervisor brings it back (restarted, or the stall ends): it follows. Until then its broker session
      // holds its share of the devices' messages (brokers hand a disconnected member its share, README
      // "Brokers"); back, it takes them in, and so nothing the devices sent is lost
      let back = first;
      if (stop === 'SIGKILL') hubs.push((back = await spawnHub(pair.args(replicas[0]!), false)));
      else first.child.kill('SIGCONT');
      await waitFor(async () => (await leads(back.urls.http!, token)) === false, 'replica a back, following');
      expect(await leads(second.urls.http!, token)).toBe(true);
      await waitFor(async () => (await b.get(`/rollouts/${id}`)).body.rollout.status === 'completed', 'rollout completed by replica b', 60_000).catch(async (e: Error) => {
        // what the rollout is waiting for, and what the replicas said, in the failure itself
        const r = (await b.get(`/rollouts/${id}`)).body.rollout;
        const waves = JSON.stringify(r.waves.map((w: { outcome: string; byOutcome: unknown }) => [w.outcome, w.byOutcome]));
        throw new Error(`${e.message}: ${r.status} ${r.pausedReason ?? ''} ${waves}\nreplica a: ${first.stderr().slice(-1500)}\nreplica b: ${second.stderr().slice(-1500)}`);
      });
      for (const agent of agents) await agent.core.waitFor(() => agent.core.slots().tiny?.active?.version === '2.0.0', 60_000);
      pumping = false;
      await pump;

      // telemetry stored == telemetry acknowledged: once every outbox is empty (each batch confirmed by the
      // replica that committed it), each device's windows are in the database exactly once
      phase('rollout completed');
      await drainTelemetry(agents);
      phase('outboxes drained');
      expect(agents.every((x) => agentTelemetry(x).sent > 0)).toBe(true);
      expect(await ledgerMismatches(db, agents)).toEqual([]);
      const resent = agents.reduce((n, x) => n + agentTelemetry(x).resent, 0);
      console.log(`${stop}: ${agents.reduce((n, x) => n + agentTelemetry(x).sent, 0)} windows sent and stored once each, ${resent} batches re-sent; ${phases.join(', ')}`);
      // and the agents' own outbox files agree once they stopped: nothing left unconfirmed
      const stopped = agents.splice(0);
      await Promise.all(stopped.map((x) => x.stop()));
      for (const x of stopped) expect(outboxFile(x), x.config.deviceId).toEqual({ windows: 0, batches: 0 });

      // what the devices saw: per device, desired-state sequences never go back; a sequence seen again is the
      // same signed state published again (a replica's start completes sends a crash may have cut short)
      for (const [dev, states] of observer.seen) {
        const seqs = states.map((x) => x.seq).join(',');
        for (let i = 1; i < states.length; i++) {
          expect(states[i]!.seq, `${dev}: ${seqs}`).toBeGreaterThanOrEqual(states[i - 1]!.seq);
          if (states[i]!.seq === states[i - 1]!.seq) expect(states[i]!.envelope, `${dev}: ${seqs}`).toBe(states[i - 1]!.envelope);
        }
      }
      expect([...observer.seen.values()].every((states) => states.length >= 2)).toBe(true); // v1, then v2
      await observer.close();
      // the retained desired state of every device is the database's row (a fresh subscriber gets retained copies)
      const fresh = await observeDesired(broker.hubUrlFor('edgefleet_hub_obs'));
      await waitFor(() => fresh.retained.size === AGENTS, 'every retained desired state');
      const client = new pg.Client({ connectionString: db });
      await client.connect();
      try {
        const rows = (await client.query<{ device_id: string; envelope: string }>('SELECT device_id, envelope FROM desired_states')).rows;
        expect(rows).toHaveLength(AGENTS);
        for (const r of rows) expect(fresh.retained.get(r.device_id), r.device_id).toBe(r.envelope);
      } finally {
        await client.end();
        await fresh.close();
      }
      expect((await b.get('/audit/verify')).body).toMatchObject({ ok: true });

    }, 240_000);
  }
});
