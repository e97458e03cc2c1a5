// Hub processes and the Mosquitto they expect, for crash tests and benchmarks alike: `edgefleet hub start` as a
// child (killed with SIGKILL at will, its /metrics read over HTTP) and a Mosquitto on a free port with the ACL
// of hub/mosquitto/acl plus one `user` block per hub replica (README "Brokers").
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { mosquittoPasswordHash } from '@edgefleet/hub';
import { MOSQUITTO, freePort, listening } from './broker-load.js';

const BIN = fileURLToPath(new URL('../../hub/bin/edgefleet.js', import.meta.url));
const BUILT = existsSync(fileURLToPath(new URL('../../hub/dist/cli/main.js', import.meta.url)));
const CLI = fileURLToPath(new URL('../../hub/src/cli/main.ts', import.meta.url));
const ACL = fileURLToPath(new URL('../../hub/mosquitto/acl', import.meta.url));

export interface HubProcess {
  child: ChildProcess;
  urls: { http?: string; mqtt?: string; ws?: string };
  exited: Promise<number | null>;
  stderr(): string;
}

/** `edgefleet hub start ARGS` (hub/dist when built); resolves once it printed its URLs (`http` always, `mqtt` unless off). */
export async function spawnHub(args: string[], wantMqtt = true): Promise<HubProcess> {
  const all = ['hub', 'start', ...args];
  const child = spawn(process.execPath, BUILT ? [BIN, ...all] : ['--import', 'tsx', CLI, ...all], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const urls: HubProcess['urls'] = {};
  for await (const line of createInterface({ input: child.stdout! })) {
    const m = /^\s+(http|mqtt|ws)\s+(\S+)$/.exec(line);
    if (m) urls[m[1] as 'http'] = m[2]!;
    if (urls.http && (urls.mqtt || !wantMqtt)) break;
  }
  if (!urls.http) throw new Error(`hub did not start: ${err}`);
  child.stdout!.resume();
  return { child, urls, exited, stderr: () => err };
}

export async function killHard(p: HubProcess | undefined): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGKILL');
  await p.exited;
}

/** A hub's /metrics text (Prometheus format; the admin token's bearer), or null when it does not answer within 1 s. */
export async function hubMetrics(http: string, token: string): Promise<string | null> {
  try {
    const res = await fetch(`${http}/metrics`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(1000) });
    return res.ok ? await res.text() : null;
  } catch {
    return null;
  }
}

/** The sum of a metric's samples over all label sets in a /metrics text. */
export function metricValue(text: string, name: string): number {
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(m[1]);
  return sum;
}

/** `edgefleet_replica_leader` of a replica (1 while it leads, design §8); null when it does not answer. */
export async function replicaLeads(http: string, token: string): Promise<boolean | null> {
  const text = await hubMetrics(http, token);
  return text === null ? null : /^edgefleet_replica_leader\{[^}]*\} 1$/m.test(text);
}

export interface MosquittoProcess {
  port: number;
  passwd: string;
  pidFile: string;
  /** Its acl_file: a copy of hub/mosquitto/acl (plus hub users) a hub may rewrite (`mosquittoAclFile`). */
  aclFile: string;
  /** The broker's pid (what /proc accounting reads). */
  pid: number;
  hubUrl: string;
  /** The URL of hub user `user` (one of `hubUsers`), with the hub password. */
  hubUrlFor(user: string): string;
  /** What mosquitto printed so far. */
  log(): string;
  stop(): Promise<void>;
  /** SIGKILL: what it queued (persistence false) dies with it. */
  kill(): Promise<void>;
}

export interface HubMosquittoOptions {
  /** Listen here (a restart on the port agents were configured with); default a free port. */
  port?: number;
  /** Keep the password file already in `dir` (the devices the hub wrote into it), if there is one. */
  keepPasswordFile?: boolean;
  /** Hub users besides `edgefleet_hub` (replicas, design §8): in the first password file and the ACL, full rights. */
  hubUsers?: readonly string[];
  /** Persistence on, in this directory (what a SIGTERM saves and the next start restores); default off. */
  persistenceDir?: string;
}

/**
 * hub/mosquitto/mosquitto.conf as tests, benchmarks and the chaos campaign run it: on `port` of 127.0.0.1, the
 * given password, ACL and pid files; persistence off unless a directory is given (what a SIGKILL then keeps).
 */
export function hubMosquittoConf(o: { port: number; passwordFile: string; aclFile: string; pidFile: string; persistenceDir?: string; extra?: readonly string[] }): string {
  return [
    `listener ${o.port} 127.0.0.1`,
    'allow_anonymous false',
    `password_file ${o.passwordFile}`,
    `acl_file ${o.aclFile}`,
    'use_username_as_clientid true',
    'max_packet_size 3145728',
    ...(o.persistenceDir ? ['persistence true', `persistence_location ${o.persistenceDir}/`] : ['persistence false']),
    `pid_file ${o.pidFile}`,
    ...(process.getuid?.() === 0 ? ['user root'] : []),
    ...(o.extra ?? []),
    '',
  ].join('\n');
}

/** Mosquitto as `--broker` mode expects it (hub/mosquitto/mosquitto.conf), with `extra` config lines. */
export async function startHubMosquitto(dir: string, hubPassword: string, extra: string[] = [], options: HubMosquittoOptions = {}): Promise<MosquittoProcess> {
  const port = options.port ?? (await freePort());
  const passwd = join(dir, 'mosquitto.passwd');
  const pidFile = join(dir, 'mosquitto.pid');
  const hubUsers = ['edgefleet_hub', ...(options.hubUsers ?? [])];
  if (!(options.keepPasswordFile && existsSync(passwd))) writeFileSync(passwd, hubUsers.map((u) => `${u}:${mosquittoPasswordHash(hubPassword)}\n`).join(''), { mode: 0o600 });
  // the shipped ACL, plus a `user` block per replica user (README "Brokers")
  // a copy: a hub given `mosquittoAclFile` rewrites its multicast section (never the shipped file)
  const acl = join(dir, 'mosquitto.acl');
  if (!(options.keepPasswordFile && existsSync(acl))) writeFileSync(acl, [readFileSync(ACL, 'utf8'), ...(options.hubUsers ?? []).map((u) => `user ${u}\ntopic readwrite ef/v1/#\n`)].join('\n'));
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, hubMosquittoConf({ port, passwordFile: passwd, aclFile: acl, pidFile, extra, ...(options.persistenceDir ? { persistenceDir: options.persistenceDir } : {}) }));
  const output: string[] = [];
  const broker = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  broker.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
  broker.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  const exited = new Promise((r) => broker.once('exit', r));
  const stop = async (signal: NodeJS.Signals) => {
    if (broker.exitCode === null && broker.signalCode === null) {
      broker.kill(signal);
      await exited;
    }
  };
  // listening, and its pid file written (the hub signals that pid after each device change)
  const deadline = Date.now() + 10_000;
  while (!((await listening(port)) && existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() === String(broker.pid))) {
    if (broker.exitCode !== null || Date.now() > deadline) {
      await stop('SIGKILL');
      throw new Error(`mosquitto did not start: ${output.join('')}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    port,
    passwd,
    pidFile,
    aclFile: acl,
    pid: broker.pid!,
    hubUrl: `mqtt://edgefleet_hub:${hubPassword}@127.0.0.1:${port}`,
    hubUrlFor: (user) => `mqtt://${user}:${hubPassword}@127.0.0.1:${port}`,
    log: () => output.join(''),
    stop: () => stop('SIGTERM'),
    kill: () => stop('SIGKILL'),
  };
}
