// The real processes a chaos campaign starts and kills: `edgefleet hub start` and `edgefleet-agent` from
// the built bins (hub/dist, agent/dist), and Mosquitto. Everything listens on 127.0.0.1 on ports chosen
// once, so that a process restarted after kill -9 comes back where its clients expect it.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';

const HUB_BIN = fileURLToPath(new URL('../../hub/bin/edgefleet.js', import.meta.url));
const AGENT_BIN = fileURLToPath(new URL('../../agent/bin/edgefleet-agent.js', import.meta.url));
export const MOSQUITTO = '/usr/sbin/mosquitto';

/** The bins run the built dist/: a campaign against stale or missing builds would test nothing. */
export function builtBinsMissing(): string | null {
  for (const f of ['../../hub/dist/cli/main.js', '../../agent/dist/bin.js']) {
    if (!existsSync(fileURLToPath(new URL(f, import.meta.url)))) return `${f.slice(6)} is missing: run \`npm run build\` first`;
  }
  return null;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(fn: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs: number, everyMs = 50): Promise<T | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) return null;
    await sleep(everyMs);
  }
}

export { freePort } from '../sim/broker-load.js';

/** Every child this campaign spawned and has not seen exit: what an interrupted campaign kills. */
const spawned = new Set<ChildProcess>();

function track(c: ChildProcess): ChildProcess {
  spawned.add(c);
  c.once('exit', () => spawned.delete(c));
  return c;
}

/** SIGKILL to each child this campaign started (by its own handle, nothing else). */
export function killSpawned(): void {
  for (const c of spawned) c.kill('SIGKILL');
}

const running = (c: ChildProcess | null): c is ChildProcess => c !== null && c.exitCode === null && c.signalCode === null;

export async function kill9(child: ChildProcess | null): Promise<void> {
  if (!running(child)) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await gone;
}

/** SIGTERM and wait; SIGKILL after `graceMs` (a process that does not stop cleanly is reported by the caller). */
export async function terminate(child: ChildProcess | null, graceMs = 15_000): Promise<boolean> {
  if (!running(child)) return true;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const clean = await Promise.race([gone.then(() => true), sleep(graceMs).then(() => false)]);
  if (!clean) await kill9(child);
  return clean;
}

/** Keeps the last lines a child wrote, for the log when it misbehaves. */
function tail(child: ChildProcess, keep = 40): () => string {
  const lines: string[] = [];
  const add = (d: Buffer) => {
    for (const l of d.toString().split('\n')) if (l) lines.push(l);
    if (lines.length > keep) lines.splice(0, lines.length - keep);
  };
  child.stdout?.on('data', add);
  child.stderr?.on('data', add);
  return () => lines.join('\n');
}

/** The telling lines of a child's output (its error, not V8's stack frames): for one-line notes. */
export function excerpt(output: string, n = 2): string {
  const lines = output.split('\n').filter((l) => l.trim() && !/^\s*(\d+: 0x|at |}|{|Node\.js v|\^)/.test(l));
  const telling = lines.filter((l) => /fatal|error|INTERNAL|code:|refused|killed/i.test(l));
  return (telling.length > 0 ? telling : lines).slice(-n).map((l) => l.trim()).join(' | ') || '(no output)';
}

// ---- hub ----

export interface HubProcessOptions {
  dataDir: string;
  httpPort: number;
  /** Embedded broker port; ignored with `broker`. */
  mqttPort?: number;
  broker?: { url: string; passwordFile: string; pidFile: string };
  /** V8 heap cap of the hub child, as a deployment sets one: an allocation attack then shows in seconds. */
  heapMb: number;
}

export interface HubProcess {
  readonly http: string;
  readonly mqtt: string;
  readonly dataDir: string;
  token(): string;
  /** Spawns `edgefleet hub start`; true once it printed its addresses within `timeoutMs`. */
  start(timeoutMs?: number): Promise<boolean>;
  kill9(): Promise<void>;
  /** Clean stop (SIGTERM); false when it had to be killed. */
  stop(): Promise<boolean>;
  alive(): boolean;
  /** The HTTP API answers `fleet status` (which merges stored telemetry: a poisoned rollup shows here). */
  serving(timeoutMs?: number): Promise<boolean>;
  output(): string;
}

export function createHubProcess(o: HubProcessOptions): HubProcess {
  let child: ChildProcess | null = null;
  let out: () => string = () => '';
  const http = `http://127.0.0.1:${o.httpPort}`;
  const args = ['hub', 'start', '--data', o.dataDir, '--http', `127.0.0.1:${o.httpPort}`, '--ws', 'off', '--rollout-tick-ms', '200'];
  if (o.broker) args.push('--broker', o.broker.url, '--mosquitto-password-file', o.broker.passwordFile, '--mosquitto-pid-file', o.broker.pidFile, '--mqtt', 'off');
  else args.push('--mqtt', `127.0.0.1:${o.mqttPort}`);
  const token = () => readFileSync(`${o.dataDir}/admin-token`, 'utf8').trim();
  const hub: HubProcess = {
    http,
    mqtt: o.broker ? o.broker.url.replace(/\/\/[^@]*@/, '//') : `mqtt://127.0.0.1:${o.mqttPort}`,
    dataDir: o.dataDir,
    token,
    async start(timeoutMs = 30_000) {
      if (running(child)) return true;
      const c = track(
        spawn(process.execPath, [`--max-old-space-size=${o.heapMb}`, HUB_BIN, ...args], {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' },
        }),
      );
      child = c;
      out = tail(c);
      let printed = '';
      c.stdout!.on('data', (d: Buffer) => (printed += d.toString()));
      const up = await waitFor(() => (!running(c) ? 'exited' : /\bhttp\s+http:/.test(printed) && 'up'), timeoutMs);
      return up === 'up' && running(c);
    },
    kill9: () => kill9(child),
    stop: () => terminate(child),
    alive: () => running(child),
    async serving(timeoutMs = 20_000) {
      const ok = await waitFor(async () => {
        if (!running(child)) return false;
        const res = await fetch(`${http}/api/v1/fleet/status`, { headers: { authorization: `Bearer ${token()}` }, signal: AbortSignal.timeout(5000) });
        await res.arrayBuffer();
        return res.status === 200;
      }, timeoutMs, 200);
      return ok === true;
    },
    output: () => out(),
  };
  return hub;
}

/** An MQTT CONNECT as `id` answered with CONNACK within `timeoutMs`: the broker side of "serving". */
export async function mqttAccepts(url: string, id: string, password: string, timeoutMs = 10_000): Promise<boolean> {
  const ok = await waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        const c = mqtt.connect(url, { clientId: `${id}`, username: id, password, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 3000 });
        const done = (v: boolean) => {
          c.end(true);
          resolve(v);
        };
        c.once('connect', () => done(true));
        c.once('error', () => done(false));
        c.once('close', () => done(false));
      }),
    timeoutMs,
    300,
  );
  return ok === true;
}

// ---- agent ----

export interface AgentProcess {
  readonly id: string;
  readonly dataDir: string;
  api: string | null;
  /** Spawns `edgefleet-agent`; resolves with its local API URL, or null if it exits or stays silent. */
  start(timeoutMs?: number): Promise<string | null>;
  kill9(): Promise<void>;
  stop(): Promise<boolean>;
  alive(): boolean;
  output(): string;
}

export function createAgentProcess(id: string, configFile: string, dataDir: string, apiPort: number): AgentProcess {
  let child: ChildProcess | null = null;
  let out: () => string = () => '';
  const a: AgentProcess = {
    id,
    dataDir,
    api: null,
    async start(timeoutMs = 30_000) {
      if (running(child) && a.api) return a.api;
      const c = track(
        spawn(process.execPath, [AGENT_BIN, '--config', configFile, '--data', dataDir, '--api', `127.0.0.1:${apiPort}`], {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' },
        }),
      );
      child = c;
      out = tail(c);
      let printed = '';
      c.stdout!.on('data', (d: Buffer) => (printed += d.toString()));
      const url = await waitFor(() => (!running(c) ? 'exited' : /api=(http:\/\/\S+)/.exec(printed)?.[1]), timeoutMs);
      a.api = url && url !== 'exited' && running(c) ? url : null;
      return a.api;
    },
    async kill9() {
      await kill9(child);
      a.api = null;
    },
    async stop() {
      const clean = await terminate(child);
      a.api = null;
      return clean;
    },
    alive: () => running(child),
    output: () => out(),
  };
  return a;
}

// ---- mosquitto ----

export interface MosquittoProcess {
  readonly port: number;
  start(): Promise<boolean>;
  kill9(): Promise<void>;
  stop(): Promise<boolean>;
  output(): string;
}

export function createMosquittoProcess(conf: string, port: number, pidFile: string): MosquittoProcess {
  let child: ChildProcess | null = null;
  let out: () => string = () => '';
  return {
    port,
    async start() {
      if (running(child)) return true;
      const c = track(spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] }));
      child = c;
      out = tail(c);
      const listening = await waitFor(
        () =>
          new Promise<boolean>((resolve) => {
            const s = net.connect(port, '127.0.0.1', () => {
              s.destroy();
              resolve(true);
            });
            s.on('error', () => resolve(false));
          }),
        10_000,
      );
      // the hub signals the pid in this file after each device change
      const pid = await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() === String(c.pid), 5000);
      return listening === true && pid === true && running(c);
    },
    kill9: () => kill9(child),
    stop: () => terminate(child, 5000),
    output: () => out(),
  };
}
