// Real processes for crash tests: `edgefleet hub start` as a child (killed with SIGKILL at will) and a
// Mosquitto on a free port with the ACL of hub/mosquitto/acl (shared with the benchmarks:
// scripts/sim/hub-processes.ts), and the in-process agents such tests run behind a `--broker` hub.
import { join } from 'node:path';
import { createAgent, type Agent } from '@edgefleet/agent';

export { MOSQUITTO, freePort } from '../../scripts/sim/broker-load.js';
export {
  killHard,
  replicaLeads,
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
