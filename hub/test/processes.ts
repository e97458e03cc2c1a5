// Real processes for crash tests: `edgefleet hub start` as a child (killed with SIGKILL at will) and a
// Mosquitto on a free port with the ACL of hub/mosquitto/acl (shared with the benchmarks:
// scripts/sim/hub-processes.ts), and the in-process agents such tests run behind a `--broker` hub.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAgent, type Agent } from '@edgefleet/agent';
import { replicaLeads, spawnHub, type HubProcess, type MosquittoProcess } from '../../scripts/sim/hub-processes.js';
import { TEST_KEK, waitFor } from './helpers.js';

export { MOSQUITTO, freePort } from '../../scripts/sim/broker-load.js';
export {
  killHard,
  replicaLeads,
  replicaLeads as leads,
  spawnHub,
  startHubMosquitto as startMosquitto,
  type HubMosquittoOptions as MosquittoOptions,
  type HubProcess,
  type MosquittoProcess,
} from '../../scripts/sim/hub-processes.js';

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
  await waitFor(() => replicaLeads(first.urls.http!, token), `replica ${replicas[0]} leads`);
  const second = await spawnHub(args(replicas[1]), false);
  into.push(second);
  return { args, dataDir, token, first, second };
}
