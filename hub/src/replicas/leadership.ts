// Which replica does the single-leader work (design §8): the rollout engine's ticks, the alarm checks, and the
// hourly upkeep (re-signing desired states, retention). On SQLite there is one hub, and it leads. On PostgreSQL
// every replica runs for election (leader.ts: an advisory lock on a fenced session of its own) and only the
// elected one does that work; the HTTP API and device ingest run on every replica.
import type { Store } from '../store/index.js';
import type { Metrics } from '../metrics.js';
import { createLeaderElection } from './leader.js';

/** The advisory lock key of the hub's leader (other hub locks take other keys; migrations 0x…0001). */
export const HUB_LEADER_KEY = 0x6564_6765_0002;

export interface Leadership {
  /** True while this replica leads (always, on SQLite). */
  leading(): boolean;
  close(): Promise<void>;
}

export interface LeadershipOptions {
  store: Pick<Store, 'engine'>;
  /** Registers `edgefleet_replica_leader{replica}` (1 while this replica leads): what ops alert on, and tests read. */
  metrics?: Metrics;
  /** The database URL the store was opened on (the election opens a connection of its own to it). */
  dbUrl: string;
  replicaId: string;
  log: (line: string) => void;
  /** How often a follower tries the lock and the leader heartbeats (default 1000 ms). */
  retryMs?: number;
  /** The server ends a silent leader's session after this long (default 5000 ms). */
  sessionTimeoutMs?: number;
  /** Called when this replica is elected (e.g. to tick the engine at once). */
  onElected?: () => void;
}

export function createLeadership(o: LeadershipOptions): Leadership {
  const leadership = elect(o);
  o.metrics?.gauge('edgefleet_replica_leader', 'Whether this replica does the single-leader work (rollout engine, alarms, upkeep): 1 or 0.', () => [
    { labels: { replica: o.replicaId || 'single' }, value: leadership.leading() ? 1 : 0 },
  ]);
  return leadership;
}

function elect(o: LeadershipOptions): Leadership {
  if (o.store.engine !== 'postgres') return { leading: () => true, close: async () => undefined };
  const election = createLeaderElection({
    url: o.dbUrl,
    key: HUB_LEADER_KEY,
    replicaId: o.replicaId,
    ...(o.retryMs !== undefined ? { retryMs: o.retryMs } : {}),
    ...(o.sessionTimeoutMs !== undefined ? { sessionTimeoutMs: o.sessionTimeoutMs } : {}),
    onElected: () => {
      o.log(`leader: replica ${o.replicaId} leads (rollout engine, alarms, upkeep)`);
      o.onElected?.();
    },
    onDemoted: (reason) => o.log(`leader: replica ${o.replicaId} no longer leads: ${reason}`),
  });
  return { leading: () => election.isLeading(), close: () => election.close() };
}
