// The PostgreSQL backend of the store's seam (store/sql.ts), on `pg`: a pool of connections, the shared SQL's
// named parameters rewritten to positional ones, numbers back as numbers, one pooled client per transaction,
// migrations applied once under an advisory lock (several replicas may start at once).
//
// Isolation: READ COMMITTED, PostgreSQL's default. A transaction's writes are invisible to others until it
// commits and it never fails for a conflict that a retry would fix (SERIALIZABLE can: `fn` may have done
// things a replay would repeat, and the seam has no retry contract). What it does not give is SQLite's
// one-writer-at-a-time: two transactions that read a value into JS and write back a value computed from
// it can lose an update. Statements must make such steps atomic themselves: `SET n = n + 1 RETURNING n`,
// `ON CONFLICT … DO UPDATE`, `SELECT … FOR UPDATE`, or an advisory transaction lock where a chain must be
// appended one at a time (the audit chain).
import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import { MIGRATION_LOCK_KEY, PG_MIGRATIONS, PG_MIGRATIONS_TABLE } from './migrations-pg.js';
import { bindValues, createTranslator, postgresDialect, quoteIdent } from './postgres-sql.js';
import { openPgListener, type PgListener } from './pg-listener.js';
import type { SqlDatabase, SqlParams, SqlRunner, SqlValue } from './sql.js';

export interface PostgresOptions {
  /** Pool size (default 10). A transaction holds one connection until it ends. */
  max?: number;
  /** Apply pending migrations before resolving (default true). */
  migrate?: boolean;
  /** An idle pooled connection failed (the server restarted, the network dropped); default: ignored. */
  onError?: (err: Error) => void;
  /** The migrations to apply (tests); default the hub's PG_MIGRATIONS. */
  migrations?: readonly string[];
}

/** PostgreSQL's limit on bind parameters in one statement (the protocol's Int16 count). */
export const PG_MAX_PARAMS = 65_535;

/**
 * int8 and numeric as JS numbers (COUNT, SUM, BIGINT epoch ms), as better-sqlite3 gives them. Exact up to
 * 2^53: an int8 beyond that is refused rather than rounded; a numeric is rounded to the nearest double.
 * JSON comes back as its text, as SQLite gives a text column.
 */
export function typeParser(oid: number, format?: string): (value: string) => unknown {
  if (format !== 'binary') {
    if (oid === 20) return parseInt8;
    if (oid === 1700) return Number;
    if (oid === 114 || oid === 3802) return (v: string) => v;
  }
  return pg.types.getTypeParser(oid, (format ?? 'text') as 'text');
}

function parseInt8(v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${v} is beyond 2^53: it has no exact JS number`);
  return n;
}

type Queryable = Pick<pg.PoolClient, 'query'>;

interface Tx {
  readonly owner: object;
  readonly client: pg.PoolClient;
  open: boolean;
  /** notify() calls inside it (JSON [channel, payload], each once): sent by one statement before COMMIT. */
  notices: Set<string>;
}

/** NOTIFY's payload limit is 8000 bytes; a notice names a key, never carries data. */
const MAX_NOTICE_BYTES = 7900;

export async function openPostgres(url: string, opts: PostgresOptions = {}): Promise<SqlDatabase> {
  const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 10, types: { getTypeParser: typeParser as never } });
  pool.on('error', (err) => opts.onError?.(err));
  const translate = createTranslator();
  const owner = {};
  const current = new AsyncLocalStorage<Tx>();
  let closed = false;
  const listeners = new Set<PgListener>();

  const query = async (on: Queryable, sql: string, params: SqlParams | undefined): Promise<pg.QueryResult> => {
    const t = translate(sql);
    const values = bindValues(t, params);
    const r = (await on.query({ text: t.text, values })) as pg.QueryResult | pg.QueryResult[];
    // a statement text without parameters goes as a simple query, which may hold several statements
    return Array.isArray(r) ? r[r.length - 1]! : r;
  };

  /** A runner over `target()`: the transaction's client, or the pool. */
  const runner = (target: () => Queryable): SqlRunner => {
    const self: SqlRunner = {
      dialect: postgresDialect,
      run: async (sql, params) => (await query(target(), sql, params)).rowCount ?? 0,
      get: async <T>(sql: string, params?: SqlParams) => (await query(target(), sql, params)).rows[0] as T | undefined,
      all: async <T>(sql: string, params?: SqlParams) => (await query(target(), sql, params)).rows as T[],
      insertRows: (table, columns, rows, o) => insertRows(self, table, columns, rows, o?.ignoreConflicts ?? false),
    };
    return self;
  };

  const open = (): Tx | undefined => {
    const tx = current.getStore();
    // a task started inside a transaction that outlives it (a timer, a queue drain) runs on the pool
    return tx && tx.owner === owner && tx.open ? tx : undefined;
  };
  const onDb = runner(() => {
    if (closed) throw new Error('the database is closed');
    return open()?.client ?? pool;
  });

  const transaction = async <T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T> => {
    const outer = open();
    if (outer) return fn(txRunner(outer)); // a nested transaction joins the outer one
    if (closed) throw new Error('the database is closed');
    const client = await pool.connect();
    const tx: Tx = { owner, client, open: true, notices: new Set() };
    let broken: unknown;
    try {
      await client.query('BEGIN');
      const result = await current.run(tx, () => fn(txRunner(tx)));
      // delivered by the server when (and only if) the COMMIT succeeds, in commit order across sessions
      if (tx.notices.size > 0) {
        await client.query('SELECT pg_notify(n ->> 0, n ->> 1) FROM jsonb_array_elements(CAST($1 AS jsonb)) AS n', [`[${[...tx.notices].join(',')}]`]);
      }
      await client.query('COMMIT');
      return result;
    } catch (e) {
      await client.query('ROLLBACK').catch((err: unknown) => (broken = err));
      throw e;
    } finally {
      tx.open = false;
      // a connection whose ROLLBACK failed is in an unknown state: destroy it rather than pool it
      client.release(broken instanceof Error ? broken : undefined);
    }
  };

  const txRunner = (tx: Tx): SqlRunner =>
    runner(() => {
      if (!tx.open) throw new Error('the transaction has ended: statements after its end have no transaction to run in');
      return tx.client;
    });

  const db: SqlDatabase = {
    ...onDb,
    // insertRows of more than one chunk runs in a transaction of its own (or joins the open one)
    insertRows: (table, columns, rows, o) =>
      rows.length <= chunkRows(columns.length) ? onDb.insertRows(table, columns, rows, o) : transaction((tx) => tx.insertRows(table, columns, rows, o)),
    transaction,
    async notify(channel, payload) {
      if (Buffer.byteLength(payload) > MAX_NOTICE_BYTES || payload.includes('\u0000')) throw new RangeError(`a notice payload is at most ${MAX_NOTICE_BYTES} bytes, without NUL`);
      const tx = open();
      if (tx) tx.notices.add(JSON.stringify([channel, payload]));
      else await onDb.run('SELECT pg_notify(@channel, @payload)', { channel, payload });
    },
    listen(channel, onPayload, onReset) {
      const l = openPgListener(url, channel, onPayload, onReset, { onError: (err) => opts.onError?.(err) });
      listeners.add(l);
      return { ready: l.ready, close: () => (listeners.delete(l), l.close()) };
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const l of listeners) l.close();
      listeners.clear();
      await pool.end();
    },
  };

  if (opts.migrate ?? true) {
    try {
      await migratePostgres(pool, opts.migrations ?? PG_MIGRATIONS);
    } catch (e) {
      await db.close();
      throw e;
    }
  }
  return db;
}

const chunkRows = (columns: number) => Math.max(1, Math.floor(PG_MAX_PARAMS / Math.max(1, columns)));

/** Multi-row INSERTs, each under the parameter limit; resolves to the rows inserted (conflicts skipped). */
async function insertRows(
  on: SqlRunner,
  table: string,
  columns: readonly string[],
  rows: ReadonlyArray<readonly SqlValue[]>,
  ignoreConflicts: boolean,
): Promise<number> {
  if (columns.length === 0) throw new RangeError('insertRows needs at least one column');
  const head = `INSERT INTO ${quoteIdent(table)} (${columns.map(quoteIdent).join(', ')}) VALUES `;
  const tail = ignoreConflicts ? ' ON CONFLICT DO NOTHING' : '';
  const per = chunkRows(columns.length);
  let inserted = 0;
  for (let start = 0; start < rows.length; start += per) {
    const chunk = rows.slice(start, start + per);
    const params: Record<string, SqlValue> = {};
    const tuples = chunk.map((row, r) => {
      if (row.length !== columns.length) throw new RangeError(`insertRows: row ${start + r} has ${row.length} values for ${columns.length} columns`);
      return `(${row.map((v, c) => {
        const name = `p${r * columns.length + c}`;
        params[name] = v;
        return `@${name}`;
      }).join(', ')})`;
    });
    // not cached by statement text in practice: only the last chunk of a large insert has a new shape
    inserted += await on.run(head + tuples.join(', ') + tail, params);
  }
  return inserted;
}

/** Pending migrations, each in its own transaction, under an advisory lock held for the whole run. */
export async function migratePostgres(pool: pg.Pool, migrations: readonly string[] = PG_MIGRATIONS): Promise<number> {
  const client = await pool.connect();
  let applied = 0;
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await client.query(PG_MIGRATIONS_TABLE);
      const done = new Set((await client.query<{ version: number }>('SELECT version FROM migrations')).rows.map((r) => r.version));
      for (const [i, sql] of migrations.entries()) {
        const version = i + 1;
        if (done.has(version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(sql);
          await client.query('INSERT INTO migrations (version, applied_at) VALUES ($1, $2)', [version, new Date().toISOString()]);
          await client.query('COMMIT');
          applied++;
        } catch (e) {
          await client.query('ROLLBACK');
          throw new Error(`migration ${version} failed: ${(e as Error).message}`, { cause: e });
        }
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
  return applied;
}
