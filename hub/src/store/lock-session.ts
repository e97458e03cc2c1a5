// One dedicated PostgreSQL connection that can hold a session advisory lock (the replicas' leader lock), and
// run statements through that same connection: while the lock is held, those statements succeed only while the
// session that holds the lock lives, so a leader whose session the server ended cannot write (fencing).
//
// Not from the store's pool: a pooled connection is shared, and a lock taken on it would be released (or kept)
// by whoever used it next. The session's settings make the server end it, and free its lock, when the holder
// stops talking (frozen, partitioned, dead host) — see SESSION_SETTINGS.
import pg from 'pg';
import { typeParser } from './postgres.js';
import { bindValues, createTranslator, postgresDialect } from './postgres-sql.js';
import type { SqlParams, SqlRunner } from './sql.js';

/** Statements through the lock's own connection (no insertRows, no transactions of their own). */
export type LockSessionRunner = Pick<SqlRunner, 'dialect' | 'run' | 'get' | 'all'>;

export interface LockSession {
  /** The server process id of this session (pg_backend_pid). */
  readonly backendPid: number;
  /** pg_try_advisory_lock: true when this session holds `key` now (re-entrant: each true counts once). */
  tryLock(key: number): Promise<boolean>;
  /** A round trip that keeps the session from being idle long enough for the server to end it. */
  heartbeat(): Promise<void>;
  readonly sql: LockSessionRunner;
  /** Releases every advisory lock this session holds and closes the connection. */
  close(): Promise<void>;
}

export interface LockSessionOptions {
  /**
   * The server ends the session when it has been idle (or idle in a transaction) this long, which frees its
   * lock; the holder must send something more often (heartbeat). `idle_session_timeout` needs PostgreSQL 14+.
   */
  sessionTimeoutMs: number;
  /** The connection failed or the server ended it (any lock it held is gone). Called once. */
  onLost: (err: Error) => void;
}

/**
 * Server-side settings of the lock's session, in ms or s as PostgreSQL takes them:
 * - idle_session_timeout / idle_in_transaction_session_timeout: a frozen holder (SIGSTOP, a GC or swap stall)
 *   keeps its TCP connection open, so only the server's idle clock ends it; then another replica can lead.
 * - statement_timeout: a statement of the leader's never blocks (on a row lock, a full disk) longer than the
 *   fencing window while the leader believes it leads.
 * - tcp_keepalives_*: a holder whose host vanished (power, partition) sends no FIN; the server probes the
 *   socket after 2 s idle, every 1 s, and gives up after 3 misses. (They do not help against SIGSTOP: the
 *   frozen process's kernel still answers the probes.)
 * - client_connection_check_interval (14+): a query still running for a client that has gone is cancelled.
 */
function sessionSettings(timeoutMs: number): Record<string, string> {
  return {
    idle_session_timeout: `${timeoutMs}`,
    idle_in_transaction_session_timeout: `${timeoutMs}`,
    statement_timeout: `${timeoutMs}`,
    tcp_keepalives_idle: '2',
    tcp_keepalives_interval: '1',
    tcp_keepalives_count: '3',
    client_connection_check_interval: '1000',
  };
}

export async function openLockSession(url: string, opts: LockSessionOptions): Promise<LockSession> {
  const client = new pg.Client({
    connectionString: url,
    types: { getTypeParser: typeParser as never },
    // the client side of the same TCP keepalive: it learns of a dead server within seconds too
    keepAlive: true,
    keepAliveInitialDelayMillis: 2000,
    connectionTimeoutMillis: opts.sessionTimeoutMs,
    // options=-c … applies the settings at connect, before any statement can run without them
    options: Object.entries(sessionSettings(opts.sessionTimeoutMs))
      .map(([k, v]) => `-c ${k}=${v}`)
      .join(' '),
  });
  let lost = false;
  const lose = (err: Error) => {
    if (lost) return;
    lost = true;
    opts.onLost(err);
  };
  // an idle-session FATAL arrives as an 'error' event; a dropped socket as 'end'. Both: the lock is gone.
  client.on('error', (err) => lose(err));
  client.on('end', () => lose(new Error('the lock session ended')));
  await client.connect();
  const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  const translate = createTranslator(100);
  const query = async (sql: string, params: SqlParams | undefined): Promise<pg.QueryResult> => {
    if (lost) throw new Error('the lock session has ended: its statements cannot run');
    const t = translate(sql);
    const r = (await client.query({ text: t.text, values: bindValues(t, params) })) as pg.QueryResult | pg.QueryResult[];
    return Array.isArray(r) ? r[r.length - 1]! : r;
  };
  return {
    backendPid: pid,
    tryLock: async (key) => (await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [key])).rows[0]!.ok,
    heartbeat: async () => {
      await query('SELECT 1', undefined);
    },
    sql: {
      dialect: postgresDialect,
      run: async (sql, params) => (await query(sql, params)).rowCount ?? 0,
      get: async <T>(sql: string, params?: SqlParams) => (await query(sql, params)).rows[0] as T | undefined,
      all: async <T>(sql: string, params?: SqlParams) => (await query(sql, params)).rows as T[],
    },
    close: async () => {
      lost = true; // a deliberate close is not a loss to report
      client.removeAllListeners('end');
      client.on('error', () => {});
      try {
        await client.query('SELECT pg_advisory_unlock_all()');
      } catch {
        // already gone: the server released its locks with it
      }
      await client.end().catch(() => {});
    },
  };
}
