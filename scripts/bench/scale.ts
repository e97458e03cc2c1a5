// scale (design §8): hub replicas on one PostgreSQL database behind one Mosquitto, each replica its own
// `edgefleet hub start` process, against one hub on SQLite in the same run.
// - ingest_per_s.{sqlite,postgres.1_replica,postgres.2_replicas}: telemetry batches/s from 100 devices (a worker
//   thread) to committed rows, through Mosquitto; the replicas share it through the shared subscription;
// - rollout_s.{1_replica,2_replicas}: 200 simulated agents activate a 4 MB model (one 100% wave, no soak);
// - failover_ms: kill -9 of the leading replica → the other's `edgefleet_replica_leader` is 1; the killed one is
//   started again (as its supervisor would) and the next round kills whichever leads then;
// - cost.*: what one device costs the servers (CPU ms of hubs, broker and database from /proc; bytes and rows
//   in the database; broker memory per connection), the inputs of bench/README.md's 100k-device estimate.
// Everything it starts is stopped and removed, also when its overall deadline passes (SCALE_DEADLINE_S).
import pg from 'pg';
import { DEFAULT_CHUNK_SIZE } from '@edgefleet/protocol';
import { replicaLeads } from '../sim/hub-processes.js';
import { sizedClassifier, trainVibrationModels } from '../sim/models.js';
import { startPostgres, type PostgresServer } from '../sim/postgres.js';
import { CLIENTS, PER_CLIENT, batchBytes, ingest } from './broker.js';
import { round, type BenchEntry, type Benchmark } from './harness.js';
import { activateFleet } from './rollout.js';
import { deploy, deviceAdder, rssKb, treeCpuMs, until, withDeadline, type Deployment, type Scope } from './_scale-parts.js';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const AGENTS = env('SCALE_AGENTS', 200);
const INGEST_ROUNDS = env('SCALE_INGEST_ROUNDS', 2);
const TAKEOVERS = env('SCALE_TAKEOVERS', 5);
const DEADLINE_S = env('SCALE_DEADLINE_S', 420);
const MODEL_BYTES = 4 * 1024 * 1024;
/** A second version small enough for one chunk: its rollout costs little more than the desired states. */
const small = sizedClassifier(4096, 2);
/** The election's retry period (leader.ts default; `hub start` sets no other): a follower tries the lock this often. */
const RETRY_MS = 1000;

type Cpu = { hub: number; broker: number; db: number };
const cpuOf = (d: Deployment, server: PostgresServer, db: boolean): Cpu => ({ ...d.cpu(), db: db ? treeCpuMs(server.pid) : 0 });
const minus = (a: Cpu, b: Cpu): Cpu => ({ hub: a.hub - b.hub, broker: a.broker - b.broker, db: a.db - b.db });
const per = (c: Cpu, n: number): Cpu => ({ hub: c.hub / n, broker: c.broker / n, db: c.db / n });
const total = (c: Cpu) => c.hub + c.broker + c.db;
const ms = (x: number) => String(round(x, 3));
const fmtCpu = (c: Cpu) => `${ms(total(c))} CPU ms (hub ${ms(c.hub)}, broker ${ms(c.broker)}, database ${ms(c.db)})`;

/** `fn` on a connection of its own to the database at `url`. */
async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Rows and bytes (table + indexes + TOAST) of every table of the database. */
function tables(url: string): Promise<Map<string, { rows: number; bytes: number }>> {
  return withClient(url, async (c) => {
    const names = (await c.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).rows.map((r) => r.t);
    const out = new Map<string, { rows: number; bytes: number }>();
    for (const t of names) {
      const r = (await c.query<{ n: string; b: string }>(`SELECT count(*) AS n, pg_total_relation_size('"${t}"') AS b FROM "${t}"`)).rows[0]!;
      out.set(t, { rows: Number(r.n), bytes: Number(r.b) });
    }
    return out;
  });
}

/** What each table grew by since `before` (an empty table's pages are not a device's). */
function grown(after: Map<string, { rows: number; bytes: number }>, before: Map<string, { rows: number; bytes: number }>): Map<string, { rows: number; bytes: number }> {
  return new Map([...after].map(([t, v]) => [t, { rows: v.rows - (before.get(t)?.rows ?? 0), bytes: v.bytes - (before.get(t)?.bytes ?? 0) }]));
}

/** Rows and bytes of these tables together. */
function sum(t: Map<string, { rows: number; bytes: number }>, names: (name: string) => boolean): { rows: number; bytes: number; which: string } {
  const chosen = [...t].filter(([n, v]) => names(n) && v.rows > 0);
  return { rows: chosen.reduce((s, [, v]) => s + v.rows, 0), bytes: chosen.reduce((s, [, v]) => s + v.bytes, 0), which: chosen.map(([n, v]) => `${n} ${v.rows} rows ${v.bytes} bytes`).join(', ') };
}

interface IngestRun {
  perS: number;
  cpu: Cpu;
  db?: Map<string, { rows: number; bytes: number }>;
}

async function ingestOn(scope: Scope, server: PostgresServer, replicas: number, onPostgres: boolean, r: number): Promise<IngestRun> {
  return scope.nested(async (s) => {
    const db = onPostgres ? await server.createDatabase() : undefined;
    const d = await deploy(s, { replicas, ...(db ? { db } : {}) });
    const empty = db ? await tables(db) : undefined;
    let before: Cpu | undefined;
    const perS = await ingest({
      url: d.broker.url,
      addDevice: deviceAdder(d),
      afterAdd: d.broker.reload,
      committed: () => d.metric('edgefleet_telemetry_batches_total'),
      confirm: true,
      scrape: true,
      spreadMinutes: true,
      prefix: `ingest-${r}`,
      signal: s.signal,
      onStart: () => (before = cpuOf(d, server, onPostgres)),
    });
    const cpu = minus(cpuOf(d, server, onPostgres), before!);
    return { perS, cpu, ...(db ? { db: grown(await tables(db), empty!) } : {}) };
  });
}

interface RolloutRun {
  seconds: number;
  cpu: Cpu;
  chunks: number;
  desired: number;
  again: { seconds: number; cpu: Cpu; chunks: number };
  brokerKbPerConnection: number;
  db: Map<string, { rows: number; bytes: number }>;
  envelopeBytes: number;
  takeovers: number[];
}

/** 200 agents activate the model through `replicas` replicas; then a one-chunk model (what a desired state costs). */
async function rolloutOn(scope: Scope, server: PostgresServer, replicas: number, model: Uint8Array, takeovers: number): Promise<RolloutRun> {
  return scope.nested(async (s) => {
    const db = await server.createDatabase();
    const d = await deploy(s, { replicas, db });
    const empty = await tables(db);
    const rssIdle = rssKb(d.broker.pid);
    let rssFleet = 0;
    let before: Cpu | undefined;
    let after: Cpu | undefined;
    let chunks0 = 0;
    let desired0 = 0;
    let again: RolloutRun['again'] | undefined;
    s.step(`rollout: ${AGENTS} agents, ${replicas} replica(s)`);
    const seconds = await activateFleet({ http: d.replicas[0]!.http(), token: d.token }, model, AGENTS, s.tempDir('edgefleet-bench-scale-fleet-'), {
      timeoutMs: Math.max(5000, s.remainingMs() - 10_000),
      onStart: () => {
        rssFleet = rssKb(d.broker.pid);
        before = cpuOf(d, server, true);
      },
      afterActivation: async (fleet) => {
        after = cpuOf(d, server, true);
        chunks0 = await d.metric('edgefleet_artifact_chunks_sent_total');
        desired0 = await d.metric('edgefleet_desired_states_published_total');
        // a one-chunk model as 1.0.1: per device a signed desired state, one chunk, an activation and its reports
        s.step('rollout: a one-chunk model (desired states, next to no download)');
        await fleet.hub.pushModel({ name: 'fanout', version: '1.0.1', file: small, validation: trainVibrationModels().v1.validation });
        const pushed = cpuOf(d, server, true);
        const t0 = process.hrtime.bigint();
        await fleet.hub.startRollout({ model: 'fanout', version: '1.0.1', targets: { all: true }, waves: [100], soak: 0 });
        await fleet.waitForVersion('1.0.1', { model: 'fanout', timeoutMs: Math.max(5000, s.remainingMs() - 10_000) });
        again = {
          seconds: Number(process.hrtime.bigint() - t0) / 1e9,
          cpu: minus(cpuOf(d, server, true), pushed),
          chunks: (await d.metric('edgefleet_artifact_chunks_sent_total')) - chunks0,
        };
      },
    });
    const cpu = minus(after!, before!);
    const envelopeBytes = await withClient(db, async (c) => Number((await c.query<{ n: string }>('SELECT avg(length(envelope)) AS n FROM desired_states')).rows[0]!.n));
    const takeoverMs: number[] = [];
    for (let k = 0; k < takeovers; k++) takeoverMs.push(await takeover(s, d, k));
    return {
      seconds,
      cpu,
      chunks: chunks0,
      desired: desired0,
      again: again!,
      brokerKbPerConnection: (rssFleet - rssIdle) / AGENTS,
      db: grown(await tables(db), empty),
      envelopeBytes,
      takeovers: takeoverMs,
    };
  });
}

/** kill -9 of the leading replica; ms until another one's `edgefleet_replica_leader` is 1. The killed one comes back, following. */
async function takeover(s: Scope, d: Deployment, k: number): Promise<number> {
  s.step(`failover ${k + 1}/${TAKEOVERS}: kill -9 of the leader`);
  const leader = (await until(s, 'a leading replica', async () => ((await d.leader()) + 1 || null), 30_000)) - 1;
  const others = d.replicas.filter((_, i) => i !== leader);
  await until(s, 'the other replicas following', async () => (await Promise.all(others.map((r) => replicaLeads(r.http(), d.token)))).every((x) => x === false), 30_000);
  const t0 = performance.now();
  await d.kill(leader);
  await until(s, `another replica leading after replica ${d.replicas[leader]!.id} was killed`, async () => (await Promise.all(others.map((r) => replicaLeads(r.http(), d.token)))).includes(true), 15_000, 10);
  const ms = performance.now() - t0;
  await d.restart(leader);
  return ms;
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const best = (runs: IngestRun[]) => runs.reduce((a, b) => (b.perS > a.perS ? b : a));

async function scale(): Promise<Record<string, BenchEntry>> {
  return withDeadline('scale', DEADLINE_S * 1000, async (scope) => {
    scope.step('PostgreSQL');
    const server = await startPostgres();
    scope.defer(() => server.stop());
    // ingest: the three deployments interleaved, each round on fresh ones
    const runs = { sqlite: [] as IngestRun[], one: [] as IngestRun[], two: [] as IngestRun[] };
    for (let r = 0; r < INGEST_ROUNDS; r++) {
      for (const [key, replicas, onPg] of [['sqlite', 1, false], ['one', 1, true], ['two', 2, true]] as const) {
        scope.step(`ingest round ${r + 1}/${INGEST_ROUNDS}: ${onPg ? `${replicas} replica(s) on PostgreSQL` : 'one hub on SQLite'}`);
        const run = await ingestOn(scope, server, replicas, onPg, r);
        runs[key].push(run);
        process.stderr.write(` → ${Math.round(run.perS)}/s`);
      }
    }
    const model = sizedClassifier(MODEL_BYTES);
    const one = await rolloutOn(scope, server, 1, model, 0);
    const two = await rolloutOn(scope, server, 2, model, TAKEOVERS);
    return entries(runs, one, two);
  });
}

function entries(runs: Record<'sqlite' | 'one' | 'two', IngestRun[]>, one: RolloutRun, two: RolloutRun): Record<string, BenchEntry> {
  const s = (x: number) => round(x, 4);
  const [sq, p1, p2] = [best(runs.sqlite), best(runs.one), best(runs.two)];
  const all = (xs: IngestRun[]) => xs.map((x) => Math.round(x.perS)).join(', ');
  const batches = CLIENTS * PER_CLIENT;
  const cpuPerBatch = (x: IngestRun) => per(x.cpu, batches);
  const load = `${CLIENTS} devices × ${PER_CLIENT} QoS 1 telemetry batches (${batchBytes(true)} bytes each: one 60 s window, asking for the hub's confirmation; a worker thread in the bench process) → Mosquitto → hub process(es) → committed rows, each batch of a device in a minute of its own; best of ${runs.sqlite.length} interleaved rounds`;
  const telemetry = sum(p1.db!, (n) => n.startsWith('telemetry') || n.startsWith('rollup'));
  const perDevice = sum(one.db, (n) => !n.startsWith('telemetry') && !n.startsWith('rollup') && !['model_versions', 'rollouts', 'migrations', 'audit'].includes(n));
  const audit = one.db.get('audit') ?? { rows: 0, bytes: 0 };
  const chunksPerDevice = one.chunks / AGENTS;
  const rolloutCpu = per(one.cpu, AGENTS);
  const againCpu = per(one.again.cpu, AGENTS);
  const takeovers = two.takeovers;
  return {
    'ingest_per_s.sqlite': { value: s(sq.perS), unit: 'messages/s', note: `${load}; one hub on SQLite (its own process, --broker); rounds: ${all(runs.sqlite)}/s; per batch ${fmtCpu(cpuPerBatch(sq))}` },
    'ingest_per_s.postgres.1_replica': {
      value: s(p1.perS),
      unit: 'messages/s',
      baseline: s(sq.perS),
      ratio: round(p1.perS / sq.perS, 3),
      note: `the same, one replica on PostgreSQL (a throwaway server on this machine, fsync off); rounds: ${all(runs.one)}/s; per batch ${fmtCpu(cpuPerBatch(p1))}; baseline: one hub on SQLite`,
    },
    'ingest_per_s.postgres.2_replicas': {
      value: s(p2.perS),
      unit: 'messages/s',
      baseline: s(sq.perS),
      ratio: round(p2.perS / sq.perS, 3),
      note: `the same, two replica processes on one PostgreSQL database, the telemetry split by the shared subscription: ${round(p2.perS / p1.perS, 3)}× one replica; rounds: ${all(runs.two)}/s; per batch ${fmtCpu(cpuPerBatch(p2))}; baseline: one hub on SQLite`,
    },
    'rollout_s.1_replica': {
      value: s(one.seconds),
      unit: 's',
      note: `${AGENTS} simulated agents (one process, own MQTT connection each) activate a ${model4(MODEL_BYTES)} model (one 100% wave, no soak) through one replica on PostgreSQL behind Mosquitto (${one.desired} desired states published, ${one.chunks} chunk frames of ${DEFAULT_CHUNK_SIZE / 1024} KiB unicast: the ACL refuses multicast); per device ${fmtCpu(rolloutCpu)}`,
    },
    'rollout_s.2_replicas': {
      value: s(two.seconds),
      unit: 's',
      baseline: s(one.seconds),
      ratio: round(two.seconds / one.seconds, 3),
      note: `the same through two replicas (artifact requests served by whichever the shared subscription picks, desired states by the leader); per device ${fmtCpu(per(two.cpu, AGENTS))}; baseline: one replica`,
    },
    failover_ms: {
      value: round(median(takeovers), 4),
      unit: 'ms',
      baseline: RETRY_MS,
      ratio: round(median(takeovers) / RETRY_MS, 3),
      note: `median of ${takeovers.length} rounds (${takeovers.map((x) => Math.round(x)).join(', ')} ms): kill -9 of the leading replica process → the other's edgefleet_replica_leader is 1 (polled every 10 ms); the killed one restarted to follow before the next round; baseline: the election's retry period (a follower tries the lock that often)`,
    },
    'cost.ingest_cpu_ms_per_batch.sqlite': { value: s(total(cpuPerBatch(sq))), unit: 'ms', note: `server CPU per committed telemetry batch, one hub on SQLite: ${fmtCpu(cpuPerBatch(sq))}` },
    'cost.ingest_cpu_ms_per_batch.postgres': {
      value: s(total(cpuPerBatch(p1))),
      unit: 'ms',
      baseline: s(total(cpuPerBatch(sq))),
      ratio: round(total(cpuPerBatch(p1)) / total(cpuPerBatch(sq)), 3),
      note: `the same, one replica on PostgreSQL: ${fmtCpu(cpuPerBatch(p1))} (two replicas: ${fmtCpu(cpuPerBatch(p2))}); baseline: SQLite`,
    },
    'cost.db_bytes_per_batch': { value: s(telemetry.bytes / batches), unit: 'bytes', note: `what the PostgreSQL telemetry tables grew by with ${batches} batches, ${CLIENTS} devices × ${PER_CLIENT} minutes (one window each): ${telemetry.which} (with indexes); raw windows are kept 7 days, per-minute rollups (and their per-device rows) 90` },
    'cost.rollout_cpu_ms_per_device': { value: s(total(rolloutCpu)), unit: 'ms', note: `server CPU per device of the ${model4(MODEL_BYTES)} rollout through one replica: ${fmtCpu(rolloutCpu)}; ${chunksPerDevice.toFixed(1)} chunk frames per device` },
    'cost.desired_cpu_ms_per_device': {
      value: s(total(againCpu)),
      unit: 'ms',
      note: `server CPU per device of a rollout of a ${small.length}-byte model (a signed desired state of ~${Math.round(one.envelopeBytes)} bytes published, ${(one.again.chunks / AGENTS).toFixed(1)} chunk frames a device, the device's reports taken in): ${fmtCpu(againCpu)}; ${AGENTS} devices in ${one.again.seconds.toFixed(2)} s`,
    },
    'cost.db_bytes_per_device': { value: s(perDevice.bytes / AGENTS), unit: 'bytes', note: `PostgreSQL rows of ${AGENTS} devices after two rollouts: ${perDevice.which} (${(perDevice.rows / AGENTS).toFixed(1)} rows a device), besides ${audit.rows} audit rows` },
    'cost.broker_kb_per_connection': { value: s(one.brokerKbPerConnection), unit: 'KiB', note: `Mosquitto RSS growth per connected agent (${AGENTS} agents idle, before the rollout)` },
  };
}

const model4 = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;

export const benchmarks: Record<string, Benchmark> = {
  scale,
};
