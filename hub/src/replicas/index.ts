// replicas/: what several hub replicas sharing one database need to agree on (design §8): which one does the
// single-leader work (leader.ts: a PostgreSQL advisory lock held on a dedicated, fenced session).
// May import: store, protocol.
export { createLeaderElection, type LeaderElection, type LeaderElectionOptions, type LeaderSession } from './leader.js';
export { createLeadership, HUB_LEADER_KEY, type Leadership, type LeadershipOptions } from './leadership.js';
