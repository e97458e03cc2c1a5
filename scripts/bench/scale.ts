// scale (issue 13, design §8): the hub on PostgreSQL and with two replicas, against one hub on SQLite in the
// same run.
// - ingest_per_s.{sqlite,postgres}: telemetry batches/s from 100 devices (worker thread) to committed rows,
//   one hub on the embedded aedes, its state in SQLite / in PostgreSQL (a throwaway server, fsync off);
// - ingest_per_s.mosquitto.{1,2}_replicas: the same through Mosquitto 2 (MQTT 5 shared subscriptions), one
//   and two replicas on one PostgreSQL database; baseline: one replica;
// - failover_ms: two hubs' leader elections on one database; the leader's connection is terminated by the
//   server (what a killed process's closed socket does) → the other leads. Baseline: the election's retry
//   period, the floor of any takeover.
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { mosquittoPasswordHash, startHub, type Hub } from '@edgefleet/hub';
import { startMosquitto } from '../sim/broker-load.js';
import { startPostgres, type PostgresServer } from '../sim/postgres.js';
import { CLIENTS, HUB_PASSWORD, PER_CLIENT, ingest } from './broker.js';
import { round, type BenchEntry, type Benchmark } from './harness.js';

const ACL = fileURLToPath(new URL('../../hub/mosquitto/acl', import.meta.url));
const RETRY_MS = 250;

async function embedded(db: string | undefined): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'edgefleet-bench-scale-'));
  const hub = await startHub({ dataDir: join(dir, 'hub'), ...(db ? { db } : {}), http: '127.0.0.1:0', mqtt: '127.0.0.1:0', ws: null });
  try {
    return await ingest(hub, hub.urls.mqtt!, () => undefined);
  } finally {
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Replicas `a`, `b`… on one database and one Mosquitto with a broker user each; batches/s committed over all. */
async function replicated(db: string, n: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'edgefleet-bench-scale-'));
  const ids = ['a', 'b', 'c'].slice(0, n);
  const users = ids.map((r) => `edgefleet_hub_${r}`);
  const passwd = join(dir, 'mosquitto.passwd');
  const acl = join(dir, 'acl');
  writeFileSync(passwd, users.map((u) => `${u}:${mosquittoPasswordHash(HUB_PASSWORD)}\n`).join(''), { mode: 0o600 });
  writeFileSync(acl, `${users.map((u) => `user ${u}\ntopic readwrite ef/v1/#\n`).join('')}\n${readFileSync(ACL, 'utf8')}`);
  const m = await startMosquitto({
    dir,
    lines: ['allow_anonymous false', `password_file ${passwd}`, `acl_file ${acl}`, 'use_username_as_clientid true', 'max_packet_size 3145728', 'max_queued_messages 100000'],
  });
  const hubs: Hub[] = [];
  try {
    for (const r of ids) {
      hubs.push(
        await startHub({ dataDir: join(dir, `hub-${r}`), db, replicaId: r, http: '127.0.0.1:0', broker: `mqtt://edgefleet_hub_${r}:${HUB_PASSWORD}@127.0.0.1:${m.port}`, mosquittoPasswordFile: passwd }),
      );
    }
    const committed = () => hubs.reduce((s, h) => s + h.metrics.get('edgefleet_telemetry_batches_total'), 0);
    return await ingest(hubs[0]!, m.url, () => m.process.kill('SIGHUP'), true, committed);
  } finally {
    for (const h of hubs) await h.close();
    await m.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** ms from the leader's connection ending to the other hub leading (median of `rounds`). */
async function failover(server: PostgresServer, rounds: number): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'edgefleet-bench-scale-'));
  const out: number[] = [];
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  try {
    for (let i = 0; i < rounds; i++) {
      const db = await server.createDatabase();
      const start = (r: string) =>
        startHub({ dataDir: join(dir, `${i}-${r}`), db, replicaId: r, http: '127.0.0.1:0', mqtt: '127.0.0.1:0', ws: null, alarms: false, leaderElection: { retryMs: RETRY_MS, sessionTimeoutMs: 2000 } });
      const a = await start('a');
      const leads = (h: Hub) => /^edgefleet_replica_leader\{[^}]*\} 1$/m.test(h.metrics.render());
      while (!leads(a)) await new Promise((r) => setTimeout(r, 10));
      const b = await start('b');
      try {
        // the leader's lock session: the one connection of this database holding an advisory lock
        const pid = (await admin.query<{ pid: number }>("SELECT l.pid FROM pg_locks l JOIN pg_stat_activity s ON s.pid = l.pid WHERE l.locktype = 'advisory' AND s.datname = $1", [new URL(db).pathname.slice(1)])).rows[0]!.pid;
        const t0 = performance.now();
        await admin.query('SELECT pg_terminate_backend($1)', [pid]);
        while (!leads(b)) await new Promise((r) => setTimeout(r, 5));
        out.push(performance.now() - t0);
      } finally {
        await b.close();
        await a.close();
      }
    }
  } finally {
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

async function scale(): Promise<Record<string, BenchEntry>> {
  const server = await startPostgres();
  try {
    const sqlite = await embedded(undefined);
    const postgres = await embedded(await server.createDatabase());
    const one = await replicated(await server.createDatabase(), 1);
    const two = await replicated(await server.createDatabase(), 2);
    const takeovers = await failover(server, 5);
    const s = (x: number) => round(x, 4);
    const load = `${CLIENTS} devices × ${PER_CLIENT} QoS 1 telemetry batches (worker thread) → hub ingest → committed rows`;
    return {
      'scale.ingest_per_s.sqlite': { value: s(sqlite), unit: 'messages/s', note: `${load}; one hub, embedded aedes, SQLite` },
      'scale.ingest_per_s.postgres': { value: s(postgres), unit: 'messages/s', baseline: s(sqlite), ratio: round(postgres / sqlite, 3), note: `the same hub on PostgreSQL (same machine, fsync off); baseline: SQLite` },
      'scale.ingest_per_s.mosquitto.1_replica': { value: s(one), unit: 'messages/s', baseline: s(sqlite), ratio: round(one / sqlite, 3), note: 'one replica on PostgreSQL behind Mosquitto 2 (--broker, batches asking for confirmation); baseline: embedded aedes + SQLite' },
      'scale.ingest_per_s.mosquitto.2_replicas': { value: s(two), unit: 'messages/s', baseline: s(one), ratio: round(two / one, 3), note: 'two replicas in this one process on one PostgreSQL database behind Mosquitto 2, the telemetry split by the shared subscription; baseline: one replica' },
      'scale.failover_ms': {
        value: round(median(takeovers), 1),
        unit: 'ms',
        baseline: RETRY_MS,
        ratio: round(median(takeovers) / RETRY_MS, 3),
        note: `median of ${takeovers.length} (${takeovers.map((x) => Math.round(x)).join(', ')} ms): the leader's lock session terminated by the server → the other hub leads; baseline: the election's retry period (the floor of a takeover)`,
      },
    };
  } finally {
    await server.stop();
  }
}

export const benchmarks: Record<string, Benchmark> = {
  scale,
};
