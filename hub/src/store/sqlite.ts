// The SQLite backend of the store's seam (sql.ts): one better-sqlite3 connection in WAL mode, statements
// prepared once per SQL text, migrations applied on open. better-sqlite3 is synchronous and the connection is
// one, so transactions are serialized by an async mutex: `BEGIN IMMEDIATE` … `COMMIT`, and a statement from
// outside a running transaction waits for it (it would otherwise land inside it, and be committed or rolled
// back with someone else's work). Inside, AsyncLocalStorage tells which transaction a statement belongs to.

import { AsyncLocalStorage } from 'node:async_hooks';
import Database from 'better-sqlite3';
import { MIGRATIONS } from './migrations.js';
import type { Dialect, SqlDatabase, SqlParams, SqlRunner, SqlValue } from './sql.js';

const quoteText = (s: string): string => `'${s.replace(/'/g, "''")}'`;
const quoteKey = (k: string): string => `"${k.replace(/"/g, '\\"')}"`;

export const sqliteDialect: Dialect = {
  name: 'sqlite',
  inJsonArray: (column, param) => `${column} IN (SELECT value FROM json_each(@${param}))`,
  jsonText(expr, path) {
    // a JSON path '$."a"."b"', parameter keys spliced in by concatenation (keys are [A-Za-z0-9._-], validated)
    const parts = path.map((p) => (typeof p === 'string' ? quoteText(`.${quoteKey(p)}`) : `'."' || @${p.param} || '"'`));
    return `json_extract(${expr}, ${['\'$\'', ...parts].join(' || ')})`;
  },
  jsonEach: (expr, path, alias) => `json_each(${expr}, ${quoteText(`$${path.map((p) => `.${quoteKey(p)}`).join('')}`)}) AS ${alias}`,
  greatest: (a, b) => `MAX(${a}, ${b})`,
  ilike: 'LIKE',
};

type Statement = Database.Statement<unknown[], unknown>;

/** A transaction's state: which database it is on, and whether it ended (its runner then refuses). */
interface TxContext {
  readonly db: object;
  ended: boolean;
  /** notify() calls inside the transaction: delivered after its COMMIT, dropped on ROLLBACK. */
  notices: Array<[string, string]>;
}

/** The hub's SQLite connection: WAL, its durability and locking settings, pending migrations applied. */
export function openSqliteFile(file: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // NORMAL is durable against process crashes in WAL mode; only an OS crash can lose the last commits.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

/** Opens (or creates) the database file and applies pending migrations. */
export function openSqlite(file: string): SqlDatabase {
  const db = openSqliteFile(file);

  const statements = new Map<string, Statement>();
  const prepare = (sql: string): Statement => {
    let st = statements.get(sql);
    if (!st) statements.set(sql, (st = db.prepare(sql)));
    return st;
  };
  const bind = (params: SqlParams | undefined): unknown[] => {
    if (!params) return [];
    const out: Record<string, unknown> = {};
    // for…in, not Object.entries: a flush's multi-row statements bind over a thousand parameters
    for (const k in params) {
      const v = params[k];
      out[k] = v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v;
    }
    return [out];
  };
  // the synchronous operations; each caller below decides when it may run them
  const ops = {
    run: (sql: string, params?: SqlParams): number => prepare(sql).run(...bind(params)).changes,
    get: <T>(sql: string, params?: SqlParams): T | undefined => prepare(sql).get(...bind(params)) as T | undefined,
    all: <T>(sql: string, params?: SqlParams): T[] => prepare(sql).all(...bind(params)) as T[],
    insertRows(table: string, columns: readonly string[], rows: ReadonlyArray<readonly SqlValue[]>, opts?: { ignoreConflicts?: boolean }): number {
      if (rows.length === 0) return 0;
      const cols = columns.map((c) => `"${c}"`).join(', ');
      const st = prepare(
        `INSERT INTO ${table} (${cols}) VALUES (${columns.map(() => '?').join(', ')})${opts?.ignoreConflicts ? ' ON CONFLICT DO NOTHING' : ''}`,
      );
      // all or nothing, as one multi-row INSERT is on PostgreSQL: a savepoint inside a running transaction
      return db.transaction(() => {
        let n = 0;
        for (const row of rows) n += st.run(...row.map((v) => (v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v) : v))).changes;
        return n;
      })();
    },
  };

  // ---- the lock: one transaction (or one statement from outside) at a time ----
  let locked = false;
  const waiters: Array<() => void> = [];
  const acquire = (): Promise<void> => {
    if (!locked) {
      locked = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => waiters.push(resolve));
  };
  const release = (): void => {
    const next = waiters.shift();
    if (next) next();
    else locked = false;
  };
  let closed = false;
  const open = (): void => {
    if (closed) throw new Error('the database is closed');
  };

  const als = new AsyncLocalStorage<TxContext>();
  const self = {}; // identifies this database in a TxContext (several databases share the module's code)
  const current = (): TxContext | undefined => {
    const c = als.getStore();
    return c && c.db === self && !c.ended ? c : undefined;
  };

  /** Runs one operation: in the current transaction, at once when nothing runs, else after what runs. */
  function outside<R>(op: () => R): Promise<R> {
    try {
      open();
      if (current()) return Promise.resolve(op());
      if (!locked) return Promise.resolve(op()); // synchronous: nothing can start in between
    } catch (err) {
      return Promise.reject(err);
    }
    return acquire().then(() => {
      try {
        open();
        return op();
      } finally {
        release();
      }
    });
  }

  // notify/listen: one hub per SQLite file, so an in-process emitter; delivered on a later turn, as a
  // PostgreSQL notice arrives, never inside the caller's own statement
  const listeners = new Map<string, Set<(payload: string) => void>>();
  const deliver = (notices: ReadonlyArray<[string, string]>): void => {
    if (notices.length === 0) return;
    setImmediate(() => {
      for (const [channel, payload] of notices) for (const f of [...(listeners.get(channel) ?? [])]) f(payload);
    });
  };

  const runnerOf = (ctx: TxContext): SqlRunner => {
    const check = (): void => {
      if (ctx.ended) throw new Error('this transaction has ended: its runner cannot run statements any more');
    };
    const wrap = <R>(op: () => R): Promise<R> => {
      try {
        check();
        return Promise.resolve(op());
      } catch (err) {
        return Promise.reject(err);
      }
    };
    return {
      dialect: sqliteDialect,
      run: (sql, params) => wrap(() => ops.run(sql, params)),
      get: <T>(sql: string, params?: SqlParams) => wrap(() => ops.get<T>(sql, params)),
      all: <T>(sql: string, params?: SqlParams) => wrap(() => ops.all<T>(sql, params)),
      insertRows: (table, columns, rows, opts) => wrap(() => ops.insertRows(table, columns, rows, opts)),
    };
  };

  return {
    dialect: sqliteDialect,
    run: (sql, params) => outside(() => ops.run(sql, params)),
    get: <T>(sql: string, params?: SqlParams) => outside(() => ops.get<T>(sql, params)),
    all: <T>(sql: string, params?: SqlParams) => outside(() => ops.all<T>(sql, params)),
    insertRows: (table, columns, rows, opts) => outside(() => ops.insertRows(table, columns, rows, opts)),

    async transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T> {
      const joined = current();
      if (joined) return fn(runnerOf(joined)); // nested: part of the outer transaction
      open();
      await acquire();
      const ctx: TxContext = { db: self, ended: false, notices: [] };
      try {
        open();
        db.exec('BEGIN IMMEDIATE');
        let out: T;
        try {
          out = await als.run(ctx, () => fn(runnerOf(ctx)));
        } catch (err) {
          ctx.ended = true;
          if (db.inTransaction) db.exec('ROLLBACK');
          throw err;
        }
        ctx.ended = true;
        db.exec('COMMIT');
        deliver(ctx.notices);
        return out;
      } finally {
        ctx.ended = true;
        // a failed COMMIT (e.g. SQLITE_FULL) leaves the transaction open on the connection: end it
        if (db.open && db.inTransaction) db.exec('ROLLBACK');
        release();
      }
    },

    async notify(channel, payload) {
      open();
      const tx = current();
      if (tx) tx.notices.push([channel, payload]);
      else deliver([[channel, payload]]);
    },

    listen(channel, onPayload) {
      let set = listeners.get(channel);
      if (!set) listeners.set(channel, (set = new Set()));
      const f = (p: string) => onPayload(p);
      set.add(f);
      return { ready: Promise.resolve(), close: () => void set.delete(f) };
    },

    async close(): Promise<void> {
      if (closed) return;
      listeners.clear();
      await acquire(); // after the running transaction and what waits for it
      closed = true;
      db.close();
      release();
    },
  };
}

/** Applies the pending SQLite migrations (migrations.ts), each in its own transaction. */
export function migrate(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
  const applied = new Set(db.prepare<[], { version: number }>('SELECT version FROM migrations').all().map((r) => r.version));
  MIGRATIONS.forEach((sql, i) => {
    const version = i + 1;
    if (applied.has(version)) return;
    db.transaction(() => {
      db.exec(sql);
      db.prepare('INSERT INTO migrations (version, applied_at) VALUES (?, ?)').run(version, new Date().toISOString());
    })();
  });
}
