// The desired-state outbox (design §8) on two replicas sharing one PostgreSQL database and one Mosquitto:
// rollouts started at once through both replicas each store desired states, and only the leader publishes —
// every device's sequences reach the broker in order and its retained state is the database's row. When the
// leader goes, the other replica publishes what it stores itself.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startHub, type Hub, type HubOptions } from '@edgefleet/hub';
import { startPostgres, type PostgresServer } from '../../scripts/sim/postgres.js';
import { TEST_KEK, apiClient, tempDir, tinyModel, waitFor } from './helpers.js';
import { MOSQUITTO, leads, startMosquitto, type MosquittoProcess } from './processes.js';
import { observeDesired } from './support/replicas.js';

const HUB_PASSWORD = 'hub-secret-for-tests-only';
const DEVICES = 8;

/** A counter of a replica's /metrics (0 when absent). */
async function counter(http: string, token: string, name: string): Promise<number> {
  const text = await (await fetch(`${http}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
  const m = new RegExp(`^${name}(?:\\{\\})? (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

describe.skipIf(!existsSync(MOSQUITTO))('the desired-state outbox on two replicas (PostgreSQL)', () => {
  const dir = tempDir('edgefleet-outbox-');
  let server: PostgresServer | undefined;
  let broker: MosquittoProcess | undefined;
  const hubs: Hub[] = [];
  let reader: pg.Client | undefined;
  afterAll(async () => {
    await reader?.end();
    await Promise.all(hubs.map((h) => h.close()));
    await broker?.stop();
    await server?.stop();
    dir.remove();
  });

  it('publishes through the leader only, in each device’s sequence order, whichever replica stored the state', async () => {
    server = await startPostgres();
    const db = await server.createDatabase();
    broker = await startMosquitto(dir.path, HUB_PASSWORD, [], { hubUsers: ['edgefleet_hub_a', 'edgefleet_hub_b', 'edgefleet_hub_obs'] });
    const options = (r: string): HubOptions => ({
      dataDir: join(dir.path, `hub-${r}`),
      db,
      keys: { encryptionKey: TEST_KEK },
      http: '127.0.0.1:0',
      broker: broker!.hubUrlFor(`edgefleet_hub_${r}`),
      replicaId: r,
      mosquittoPasswordFile: broker!.passwd,
      leaderElection: { retryMs: 200, sessionTimeoutMs: 2000 },
      log: () => {},
    });
    const first = await startHub(options('a'));
    hubs.push(first);
    const token = first.adminToken;
    await waitFor(() => leads(first.urls.http, token), 'replica a leads');
    const second = await startHub(options('b'));
    hubs.push(second);
    expect(await leads(second.urls.http, token)).toBe(false);
    const [a, b] = [apiClient(first.urls.http, token), apiClient(second.urls.http, token)];
    const observer = await observeDesired(broker.hubUrlFor('edgefleet_hub_obs'));
    reader = new pg.Client({ connectionString: db });
    await reader.connect();
    const rows = async () =>
      (await reader!.query<{ device_id: string; sequence: string; published: string; envelope: string }>('SELECT device_id, sequence, published, envelope FROM desired_states ORDER BY device_id')).rows.map((r) => ({
        id: r.device_id,
        sequence: Number(r.sequence),
        published: Number(r.published),
        envelope: r.envelope,
      }));

    const ids = Array.from({ length: DEVICES }, (_, i) => `dev-ob-${i}`);
    for (const [i, id] of ids.entries()) expect((await (i % 2 ? b : a).post('/devices', { id })).status).toBe(201);
    for (const v of [1, 2, 3]) expect((await (v % 2 ? a : b).pushModel(tinyModel(v), { name: 'tiny', version: `${v}.0.0` })).status).toBe(201);

    // six all-at-once rollouts at once, half through each replica: every one re-issues every device's state
    const started = await Promise.all([1, 2, 3, 1, 2, 3].map((v, i) => (i % 2 ? b : a).post('/rollouts', { model: 'tiny', version: `${v}.0.0`, targets: { all: true }, waves: [100], soak: '0s' })));
    for (const s of started) expect(s.status, JSON.stringify(s.body)).toBe(201);

    // the outbox drains: every stored state published, and the broker's retained one is that row
    const settled = async () => {
      const stored = await rows();
      return stored.length === DEVICES && stored.every((r) => r.published === r.sequence && observer.seen.get(r.id)?.at(-1)?.envelope === r.envelope) && stored;
    };
    const first6 = await waitFor(settled, 'every desired state published', 30_000);
    for (const row of first6) {
      const seqs = observer.seen.get(row.id)!.map((s) => s.seq);
      // in order: never a lower sequence after a higher one (the same one again is a harmless republish)
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]!, `${row.id}: ${seqs.join(',')}`).toBeGreaterThanOrEqual(seqs[i - 1]!);
      expect(seqs.at(-1)).toBe(row.sequence);
    }
    // b stored states too (its rollouts), but only the leader published
    expect(await counter(second.urls.http, token, 'edgefleet_desired_states_published_total')).toBeGreaterThan(0);
    expect(await counter(second.urls.http, token, 'edgefleet_desired_states_sent_total')).toBe(0);
    expect(await counter(first.urls.http, token, 'edgefleet_desired_states_sent_total')).toBeGreaterThanOrEqual(DEVICES);

    // two gated rollouts started at once on the two replicas: the newer one supersedes the older, never both
    // each other (each replica supersedes only what is older than its own)
    const gated = await Promise.all(['2.0.0', '3.0.0'].map((v, i) => [a, b][i]!.post('/rollouts', { model: 'tiny', version: v, targets: { all: true }, waves: [50, 100], soak: '1h' })));
    for (const g of gated) expect(g.status, JSON.stringify(g.body)).toBe(201);
    const gatedIds = gated.map((g) => g.body.rollout.id as string);
    const statuses = await waitFor(async () => {
      const list = ((await a.get('/rollouts')).body.rollouts as Array<{ id: string; status: string }>).filter((r) => gatedIds.includes(r.id));
      return list.length === 2 && list.filter((r) => r.status === 'superseded').length === 1 && list.map((r) => r.status);
    }, 'one gated rollout superseded', 15_000);
    expect(statuses.filter((st) => ['running', 'soaking'].includes(st))).toHaveLength(1);
    await waitFor(settled, 'the gated wave published', 30_000);

    // the leader goes: b leads, and publishes what it stores itself
    const stored = await rows();
    await first.close();
    hubs.splice(hubs.indexOf(first), 1);
    await waitFor(() => leads(second.urls.http, token), 'replica b leads', 15_000);
    expect((await b.post('/rollouts', { model: 'tiny', version: '1.0.0', targets: { all: true }, waves: [100], soak: '0s' })).status).toBe(201);
    const after = await waitFor(async () => {
      const now = await settled();
      return now && now.every((r, i) => r.sequence > stored[i]!.sequence) && now;
    }, 'the new states published by b', 15_000);
    expect(after.map((r) => r.id)).toEqual(ids.slice().sort());
    expect(await counter(second.urls.http, token, 'edgefleet_desired_states_sent_total')).toBeGreaterThanOrEqual(DEVICES);
    await observer.close();
  });
});
