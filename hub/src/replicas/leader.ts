// Single-leader work among hub replicas (design §8): the replica whose dedicated session holds a PostgreSQL
// advisory lock leads. The others retry pg_try_advisory_lock every retryMs; the leader heartbeats on the same
// session. A killed leader's session ends with its socket, so the lock frees at once; a frozen one's is ended by
// the server's idle_session_timeout (store/lock-session.ts). The leader's writes go through the lock's session,
// so once the server has ended it they fail; actions the database cannot fence (an MQTT publish) ask
// `assertLeading()`, which also refuses once the leader's own lease clock says the server may have ended it.
import { EdgefleetError } from '@edgefleet/protocol';
import { openLockSession, type LockSession, type LockSessionRunner } from '../store/index.js';

export interface LeaderSession {
  readonly replicaId: string;
  /** The server process of the lock's session (pg_stat_activity.pid). */
  readonly backendPid: number;
  /** Statements through the lock's own session: they fail once that session (and so the lock) is gone. */
  readonly sql: LockSessionRunner;
  /** True while this replica may act as leader. */
  isLeading(): boolean;
  /** Throws UNAVAILABLE when it may not: call before each action the database does not fence. */
  assertLeading(): void;
  /** Aborted when this leadership ends. */
  readonly signal: AbortSignal;
}

export interface LeaderElectionOptions {
  /** postgres://… A connection of its own is opened on it, never one of the store's pool. */
  url: string;
  /** The advisory lock's key: one per kind of single-leader work. */
  key: number;
  replicaId: string;
  onElected: (session: LeaderSession) => void;
  /** The leadership ended: the lock's session failed or was ended by the server, or its lease ran out. */
  onDemoted: (reason: string) => void;
  /** How often a follower tries the lock and a leader heartbeats (default 1000 ms). */
  retryMs?: number;
  /** The server ends a silent session after this long, freeing its lock (default 5000 ms; > 2 × retryMs). */
  sessionTimeoutMs?: number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

export interface LeaderElection {
  isLeading(): boolean;
  /** Stops trying; a leader releases the lock (the others may take it at their next try). */
  close(): Promise<void>;
}

interface Term {
  readonly session: LockSession;
  readonly abort: AbortController;
  /** When the last heartbeat that succeeded was sent: the server's idle clock started no earlier. */
  lastSentOk: number;
}

export function createLeaderElection(opts: LeaderElectionOptions): LeaderElection {
  const retryMs = opts.retryMs ?? 1000;
  const sessionTimeoutMs = opts.sessionTimeoutMs ?? 5000;
  if (sessionTimeoutMs <= 2 * retryMs) throw new EdgefleetError('BAD_INPUT', 'sessionTimeoutMs must exceed two heartbeats (2 × retryMs)');
  // the leader's own lease ends one heartbeat before the server could end its session: it stops acting first
  const leaseMs = sessionTimeoutMs - retryMs;
  const log = opts.log ?? (() => {});
  let session: LockSession | undefined;
  let term: Term | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> = Promise.resolve();

  const demote = (reason: string) => {
    const t = term;
    if (!t) return;
    term = undefined;
    t.abort.abort(new Error(reason));
    log('leader demoted', { replicaId: opts.replicaId, reason });
    // a session that may still hold the lock is closed: keeping it would block the next leader
    if (session === t.session) session = undefined;
    void t.session.close();
    opts.onDemoted(reason);
  };

  const leading = (t: Term) => term === t && !closed && Date.now() - t.lastSentOk < leaseMs;

  const elect = (s: LockSession, sentAt: number) => {
    const t: Term = { session: s, abort: new AbortController(), lastSentOk: sentAt };
    term = t;
    const check = () => {
      if (term === t && Date.now() - t.lastSentOk >= leaseMs) demote('lease expired: no heartbeat answered in time');
      return leading(t);
    };
    const view: LeaderSession = {
      replicaId: opts.replicaId,
      backendPid: s.backendPid,
      sql: {
        dialect: s.sql.dialect,
        // async, so a refusal is a rejected promise like the server's own refusal
        run: async (sql, p) => (view.assertLeading(), s.sql.run(sql, p)),
        get: async (sql, p) => (view.assertLeading(), s.sql.get(sql, p)),
        all: async (sql, p) => (view.assertLeading(), s.sql.all(sql, p)),
      },
      isLeading: check,
      assertLeading: () => {
        if (!check()) throw new EdgefleetError('UNAVAILABLE', `replica ${opts.replicaId} is not the leader`);
      },
      signal: t.abort.signal,
    };
    log('leader elected', { replicaId: opts.replicaId, backendPid: s.backendPid });
    opts.onElected(view);
  };

  const tick = async () => {
    if (closed) return;
    const t = term;
    if (t) {
      // a resumed (SIGCONT) leader finds its lease expired here before anything else runs
      if (!leading(t)) return demote('lease expired: no heartbeat answered in time');
      const sentAt = Date.now();
      try {
        await t.session.heartbeat();
        if (term === t) t.lastSentOk = sentAt;
      } catch (e) {
        demote(`heartbeat failed: ${(e as Error).message}`);
      }
      return;
    }
    try {
      const s = session ?? (session = await connect());
      const sentAt = Date.now();
      if ((await s.tryLock(opts.key)) && !closed && session === s) elect(s, sentAt);
    } catch (e) {
      log('leader election try failed', { replicaId: opts.replicaId, error: (e as Error).message });
      const s = session;
      session = undefined;
      void s?.close();
    }
  };

  const connect = async (): Promise<LockSession> => {
    const ref: { s?: LockSession } = {};
    ref.s = await openLockSession(opts.url, {
      sessionTimeoutMs,
      onLost: (err) => {
        if (term && term.session === ref.s) demote(`lock session lost: ${err.message}`);
        // a follower's session ended (a server restart): the next try opens another
        else if (session === ref.s) session = undefined;
      },
    });
    return ref.s;
  };

  const loop = () => {
    timer = setTimeout(() => {
      ticking = tick().finally(() => {
        if (!closed) loop();
      });
    }, retryMs);
  };
  ticking = tick().finally(() => {
    if (!closed) loop();
  });

  return {
    isLeading: () => (term ? leading(term) : false),
    close: async () => {
      closed = true;
      clearTimeout(timer);
      await ticking.catch(() => {});
      const t = term;
      term = undefined;
      t?.abort.abort(new Error('election closed'));
      const s = session;
      session = undefined;
      await s?.close();
      if (t && t.session !== s) await t.session.close();
    },
  };
}
