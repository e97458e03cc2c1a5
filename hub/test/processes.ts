// Real processes for crash tests: `edgefleet hub start` as a child (killed with SIGKILL at will) and a
// Mosquitto on a free port with the ACL of hub/mosquitto/acl.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createAgent, type Agent } from '@edgefleet/agent';
import { mosquittoPasswordHash } from '@edgefleet/hub';
import { TEST_KEK, waitFor } from './helpers.js';

const BIN = fileURLToPath(new URL('../bin/edgefleet.js', import.meta.url));
const BUILT = existsSync(fileURLToPath(new URL('../dist/cli/main.js', import.meta.url)));
const CLI = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
export const MOSQUITTO = '/usr/sbin/mosquitto';
const ACL = fileURLToPath(new URL('../mosquitto/acl', import.meta.url));

export interface HubProcess {
  child: ChildProcess;
  urls: { http?: string; mqtt?: string; ws?: string };
  exited: Promise<number | null>;
  stderr(): string;
}

/** `edgefleet hub start ARGS`; resolves once it printed its URLs (`http` always, `mqtt` unless off). */
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

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface MosquittoProcess {
  port: number;
  passwd: string;
  pidFile: string;
  hubUrl: string;
  /** The URL of hub user `user` (one of `hubUsers`), with the hub password. */
  hubUrlFor(user: string): string;
  /** What mosquitto printed so far. */
  log(): string;
  stop(): Promise<void>;
  /** SIGKILL: what it queued (persistence false) dies with it. */
  kill(): Promise<void>;
}

export interface MosquittoOptions {
  /** Listen here (a restart on the port agents were configured with); default a free port. */
  port?: number;
  /** Keep the password file already in `dir` (the devices the hub wrote into it), if there is one. */
  keepPasswordFile?: boolean;
  /** Hub users besides `edgefleet_hub` (replicas, design §8): in the first password file and the ACL, full rights. */
  hubUsers?: string[];
}

/** Mosquitto as `--broker` mode expects it (hub/mosquitto/mosquitto.conf), with `extra` config lines. */
export async function startMosquitto(dir: string, hubPassword: string, extra: string[] = [], options: MosquittoOptions = {}): Promise<MosquittoProcess> {
  const port = options.port ?? (await freePort());
  const passwd = join(dir, 'mosquitto.passwd');
  const pidFile = join(dir, 'mosquitto.pid');
  const hubUsers = ['edgefleet_hub', ...(options.hubUsers ?? [])];
  if (!(options.keepPasswordFile && existsSync(passwd))) writeFileSync(passwd, hubUsers.map((u) => `${u}:${mosquittoPasswordHash(hubPassword)}\n`).join(''), { mode: 0o600 });
  // the shipped ACL, plus a `user` block per replica user (README "Brokers")
  const acl = options.hubUsers?.length ? join(dir, 'mosquitto.acl') : ACL;
  if (options.hubUsers?.length) writeFileSync(acl, [readFileSync(ACL, 'utf8'), ...options.hubUsers.map((u) => `user ${u}\ntopic readwrite ef/v1/#\n`)].join('\n'));
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous false',
      `password_file ${passwd}`,
      `acl_file ${acl}`,
      'use_username_as_clientid true',
      'max_packet_size 3145728',
      'persistence false',
      `pid_file ${pidFile}`,
      'user root',
      ...extra,
      '',
    ].join('\n'),
  );
  const output: string[] = [];
  const broker = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  broker.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
  broker.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  const exited = new Promise((r) => broker.once('exit', r));
  const listening = () =>
    new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
  await waitFor(listening, `mosquitto listening (${output.join('')})`);
  await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() === String(broker.pid), 'mosquitto pid file');
  return {
    port,
    passwd,
    pidFile,
    hubUrl: `mqtt://edgefleet_hub:${hubPassword}@127.0.0.1:${port}`,
    hubUrlFor: (user) => `mqtt://${user}:${hubPassword}@127.0.0.1:${port}`,
    log: () => output.join(''),
    async stop() {
      if (broker.exitCode === null && broker.signalCode === null) {
        broker.kill('SIGTERM');
        await exited;
      }
    },
    async kill() {
      if (broker.exitCode === null && broker.signalCode === null) {
        broker.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/**
 * Agents for these configs behind a `--broker` hub (quick reconnects and retries; telemetry kept until the hub
 * confirms it), started one by one into `into` (so a caller's cleanup stops those that started).
 */
export async function startBrokerAgents(configs: readonly unknown[], dir: string, into: Agent[]): Promise<void> {
  for (const [i, config] of configs.entries()) {
    const agent = createAgent(config, {
      dataDir: join(dir, `agent-${i}`),
      api: false,
      reconnect: { initialMs: 50, maxMs: 500 },
      core: { retry: { baseMs: 100, maxMs: 1000 }, telemetryConfirmTimeoutMs: 5000 },
    });
    into.push(agent);
    await agent.start();
  }
}

/** `edgefleet_replica_leader` of a replica (1 while it leads), from its /metrics; null when it does not answer. */
export async function leads(http: string, token: string): Promise<boolean | null> {
  try {
    const text = await (await fetch(`${http}/metrics`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(1000) })).text();
    return /^edgefleet_replica_leader\{[^}]*\} 1$/m.test(text);
  } catch {
    return null;
  }
}

export interface ReplicaPairOptions {
  /** Data dirs `hub-<replica>` and the shared `artifacts` directory go here. */
  dir: string;
  /** The PostgreSQL database both use. */
  db: string;
  /** Started with `hubUsers` naming `edgefleet_hub_<replica>` for both. */
  broker: MosquittoProcess;
  replicas: readonly [string, string];
  /** More `hub start` arguments for both. */
  extra?: string[];
}

export interface ReplicaPair {
  /** The `hub start` arguments of a replica (to start it again after a kill). */
  args(replica: string): string[];
  dataDir(replica: string): string;
  /** The admin token (one database, so one token for both). */
  token: string;
  /** The first replica, leading once the pair is up, and the second, following. */
  first: HubProcess;
  second: HubProcess;
}

/**
 * Two `--broker` replicas on one database (design §8): the first starts alone and so leads (and makes the keys,
 * in the database); the second reads them there and shares its artifacts directory. Both are pushed into `into` as they
 * start, so a caller's cleanup kills those that did.
 */
export async function startReplicaPair(options: ReplicaPairOptions, into: HubProcess[]): Promise<ReplicaPair> {
  const { dir, db, broker, replicas } = options;
  const dataDir = (r: string) => join(dir, `hub-${r}`);
  // the key-encryption key every replica is given; the keys themselves are in the database (trust/db-keys.ts)
  const kek = join(dir, 'kek');
  writeFileSync(kek, TEST_KEK + '\n', { mode: 0o600 });
  const args = (r: string) => [
    '--data', dataDir(r), '--db', db, '--key-file', kek, '--http', '127.0.0.1:0', '--broker', broker.hubUrlFor(`edgefleet_hub_${r}`), '--replica-id', r,
    '--mosquitto-password-file', broker.passwd, '--mosquitto-pid-file', broker.pidFile, '--rollout-tick-ms', '200', '--artifacts', join(dir, 'artifacts'),
    ...(options.extra ?? []),
  ];
  const first = await spawnHub(args(replicas[0]), false);
  into.push(first);
  const token = readFileSync(join(dataDir(replicas[0]), 'admin-token'), 'utf8').trim();
  await waitFor(() => leads(first.urls.http!, token), `replica ${replicas[0]} leads`);
  const second = await spawnHub(args(replicas[1]), false);
  into.push(second);
  return { args, dataDir, token, first, second };
}
