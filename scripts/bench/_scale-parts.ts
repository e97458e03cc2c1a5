// Parts of the scale benchmark (scale.ts, design §8): a scope that undoes everything a run started, even when its
// overall deadline passes or it is interrupted; CPU and memory of the processes under test from /proc; and hub
// deployments: a Mosquitto and one or more `edgefleet hub start` processes, on SQLite or one PostgreSQL database.

import { type ChildProcess, execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHubClient } from '../sim/hub-client.js';
import { hubMetrics, killHard, metricValue, replicaLeads, spawnHub, type HubProcess } from '../sim/hub-processes.js';
import { HUB_PASSWORD, mosquittoForHub } from './broker.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Scope {
  /** Aborted when the deadline passes or the run is interrupted (its reason says which, and during what). */
  readonly signal: AbortSignal;
  /** Names what runs now (progress on stderr; the deadline's message names it). */
  step(what: string): void;
  /** Runs `undo` when the scope closes, the last registered first. */
  defer(undo: () => unknown): void;
  /** A child process SIGKILLed if this process exits before the scope closes. */
  track(child: ChildProcess): void;
  /** A temp dir, removed when the scope closes. */
  tempDir(prefix: string): string;
  /** Runs `fn` in a scope of its own, closed when `fn` settles (or with this one, if that comes first). */
  nested<T>(fn: (scope: Scope) => Promise<T>): Promise<T>;
  /** Milliseconds left before the deadline. */
  remainingMs(): number;
}

/**
 * Runs `run` with a scope that undoes all it registered when `run` settles, when `ms` pass (the run is
 * abandoned with a message naming its step) or on SIGINT/SIGTERM. Each undo gets 15 s: closing cannot hang.
 */
export async function withDeadline<T>(name: string, ms: number, run: (scope: Scope) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const children = new Set<ChildProcess>();
  const t0 = Date.now();
  let current = 'starting';
  const log = (line: string) => process.stderr.write(`\n  ${name} ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s  ${line}`);
  const killChildren = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  };
  const interrupted = (signal: NodeJS.Signals) => ac.abort(new Error(`${name}: interrupted (${signal}) during "${current}"`));
  const undoAll = async (undo: Array<() => unknown>) => {
    for (const f of undo.splice(0).reverse()) {
      await Promise.race([Promise.resolve().then(f), sleep(15_000)]).catch((e: unknown) => log(`cleanup: ${String(e)}`));
    }
  };
  const scopeOf = (undo: Array<() => unknown>): Scope => ({
    signal: ac.signal,
    step(what) {
      current = what;
      log(what);
    },
    defer: (f) => void undo.push(f),
    track(child) {
      children.add(child);
      child.once('exit', () => children.delete(child));
    },
    tempDir(prefix) {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      undo.push(() => rmSync(dir, { recursive: true, force: true }));
      return dir;
    },
    async nested(fn) {
      const own: Array<() => unknown> = [];
      const close = () => undoAll(own);
      undo.push(close);
      try {
        return await fn(scopeOf(own));
      } finally {
        await close();
      }
    },
    remainingMs: () => t0 + ms - Date.now(),
  });
  process.once('exit', killChildren);
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  const timer = setTimeout(() => ac.abort(new Error(`${name}: gave up after its overall deadline of ${ms / 1000} s, during "${current}" (everything it started is stopped)`)), ms);
  const undo: Array<() => unknown> = [];
  try {
    const work = run(scopeOf(undo));
    work.catch(() => undefined); // once aborted, the abort's reason is what is reported
    const aborted = new Promise<never>((_, reject) => ac.signal.addEventListener('abort', () => reject(ac.signal.reason as Error), { once: true }));
    return await Promise.race([work, aborted]);
  } finally {
    clearTimeout(timer);
    if (!ac.signal.aborted) ac.abort(new Error(`${name}: closed`));
    log('stopping what it started');
    await undoAll(undo);
    killChildren();
    process.removeListener('exit', killChildren);
    process.removeListener('SIGINT', interrupted);
    process.removeListener('SIGTERM', interrupted);
    log('done\n');
  }
}

/** Polls `fn` every `everyMs` until it returns a truthy value; throws `what` after `timeoutMs` or once the scope is aborted. */
export async function until<T>(scope: Scope, what: string, fn: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs: number, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    scope.signal.throwIfAborted();
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

// ---- /proc accounting ----

const TICK_MS = 1000 / (Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100);

/** [ppid, own CPU ms, reaped children's CPU ms] of a live process, or null. */
function stat(pid: number): [number, number, number] | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
    return [Number(f[1]), (Number(f[11]) + Number(f[12])) * TICK_MS, (Number(f[13]) + Number(f[14])) * TICK_MS];
  } catch {
    return null;
  }
}

/** CPU ms used so far by `pid`. */
export function cpuMs(pid: number): number {
  return stat(pid)?.[1] ?? 0;
}

/**
 * CPU ms used so far by a server and its children (PostgreSQL's backends): a child that exits moves its time
 * into the parent's reaped-children counter, so the sum stays monotonic.
 */
export function treeCpuMs(parent: number): number {
  const own = stat(parent);
  if (!own) return 0;
  let sum = own[1] + own[2];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const s = stat(Number(e));
    if (s && s[0] === parent) sum += s[1];
  }
  return sum;
}

/** Resident set of a process in KiB (VmRSS). */
export function rssKb(pid: number): number {
  try {
    return Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

// ---- deployments ----

export interface Replica {
  readonly id: string;
  proc: HubProcess;
  readonly http: () => string;
}

export interface Deployment {
  readonly replicas: Replica[];
  readonly broker: Awaited<ReturnType<typeof mosquittoForHub>>;
  readonly token: string;
  readonly dir: string;
  /** A metric summed over every replica that answers. */
  metric(name: string): Promise<number>;
  /** Index of the replica whose `edgefleet_replica_leader` is 1 (-1 when none answers so). */
  leader(): Promise<number>;
  /** kill -9 of replica i. */
  kill(i: number): Promise<void>;
  /** Starts replica i again on its data dir (what its supervisor does). */
  restart(i: number): Promise<void>;
  /** CPU ms so far of the hub processes, the broker. */
  cpu(): { hub: number; broker: number };
}

export interface DeployOptions {
  /** postgres://… (several replicas share it); SQLite in the hub's data dir when absent. */
  db?: string;
  replicas: number;
  /** Extra hub users on the broker (e.g. an observer). */
  hubUsers?: string[];
}

/**
 * A Mosquitto and `replicas` hub processes in `--broker` mode (README "PostgreSQL: several replicas"): replica a
 * starts first and leads, the others get its keys; one artifacts directory. Undone when the scope closes.
 */
export async function deploy(scope: Scope, o: DeployOptions): Promise<Deployment> {
  const dir = scope.tempDir('edgefleet-bench-scale-');
  const ids = ['a', 'b', 'c', 'd'].slice(0, o.replicas);
  const broker = await mosquittoForHub(dir, [...ids.map((r) => `edgefleet_hub_${r}`), ...(o.hubUsers ?? [])]);
  scope.defer(() => broker.kill());
  const data = (r: string) => join(dir, `hub-${r}`);
  const args = (r: string) => [
    '--data', data(r), ...(o.db ? ['--db', o.db] : []), '--http', '127.0.0.1:0', '--ws', 'off', '--replica-id', r,
    '--broker', broker.hubUrlFor(`edgefleet_hub_${r}`), '--mosquitto-password-file', broker.passwd, '--mosquitto-pid-file', broker.pidFile,
    '--artifacts', join(dir, 'artifacts'),
  ];
  const replicas: Replica[] = [];
  scope.defer(() => Promise.all(replicas.map((r) => killHard(r.proc))));
  const start = async (r: string) => {
    const proc = await spawnHub(args(r), false);
    scope.track(proc.child);
    return proc;
  };
  let token = '';
  for (const r of ids) {
    if (r !== 'a') cpSync(join(data('a'), 'keys'), join(data(r), 'keys'), { recursive: true });
    const replica: Replica = { id: r, proc: await start(r), http: () => replica.proc.urls.http! };
    replicas.push(replica);
    if (r === 'a') {
      token = readFileSync(join(data('a'), 'admin-token'), 'utf8').trim();
      await until(scope, 'replica a leading', () => replicaLeads(replica.http(), token), 30_000);
    }
  }
  return {
    replicas,
    broker,
    token,
    dir,
    async metric(name) {
      const texts = await Promise.all(replicas.map((r) => hubMetrics(r.http(), token)));
      return texts.reduce((s, t) => s + (t === null ? 0 : metricValue(t, name)), 0);
    },
    async leader() {
      const leads = await Promise.all(replicas.map((r) => (r.proc.child.exitCode === null && r.proc.child.signalCode === null ? replicaLeads(r.http(), token) : null)));
      return leads.indexOf(true);
    },
    kill: (i) => killHard(replicas[i]!.proc),
    async restart(i) {
      replicas[i]!.proc = await start(replicas[i]!.id);
    },
    cpu: () => ({ hub: replicas.reduce((s, r) => s + (r.proc.child.pid ? cpuMs(r.proc.child.pid) : 0), 0), broker: cpuMs(broker.pid) }),
  };
}

/** Devices added through the replicas in turn (HTTP API, as an operator would): their MQTT passwords. */
export function deviceAdder(d: Deployment): (id: string) => Promise<string> {
  const clients = d.replicas.map((r) => createHubClient(r.http(), d.token));
  let next = 0;
  return async (id) => (await clients[next++ % clients.length]!.addDevice(id)).token;
}
