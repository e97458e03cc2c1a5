// The seam between the hub's SQL and a database engine (issue 13): every statement the store runs goes through
// a SqlDatabase, which the SQLite backend (better-sqlite3) and the PostgreSQL backend (pg) implement. Statements
// are written once, in the SQL both engines run, with named parameters (`@name`); the few constructs the two
// spell differently come from the Dialect. Numbers come back as JS numbers on both (COUNT, SUM, BIGINT).

/** A bound value: text, a number (integers up to 2^53), a byte string, or NULL. */
export type SqlValue = string | number | Uint8Array | null;

/** Named parameters: `@name` in the statement text binds `params.name`. */
export type SqlParams = Readonly<Record<string, SqlValue>>;

/** The constructs SQLite and PostgreSQL spell differently. Each returns an SQL fragment. */
export interface Dialect {
  readonly name: 'sqlite' | 'postgres';
  /** True when text `column` is one of the strings of the JSON array (text) bound to `@param`. */
  inJsonArray(column: string, param: string): string;
  /**
   * The text at a path into JSON text `expr` (NULL when absent). Each part is a literal key, or `{ param }`: a
   * key bound as a parameter (tag keys a request names).
   */
  jsonText(expr: string, path: ReadonlyArray<string | { param: string }>): string;
  /** A FROM item: one row per member of the JSON object at `path` of JSON text `expr`, as `alias(key, value)`. */
  jsonEach(expr: string, path: readonly string[], alias: string): string;
  /** The larger of two values (SQLite's two-argument MAX, PostgreSQL's GREATEST). */
  greatest(a: string, b: string): string;
  /** The case-insensitive LIKE operator (SQLite's LIKE is, for ASCII; PostgreSQL's is not). */
  readonly ilike: string;
}

/** Runs statements: on the database (each its own implicit transaction) or inside one transaction. */
export interface SqlRunner {
  readonly dialect: Dialect;
  /** Runs a statement; resolves to the number of rows it changed. */
  run(sql: string, params?: SqlParams): Promise<number>;
  /** The first row, or undefined. */
  get<T>(sql: string, params?: SqlParams): Promise<T | undefined>;
  all<T>(sql: string, params?: SqlParams): Promise<T[]>;
  /**
   * Inserts many rows into one table, set-based where the engine allows (PostgreSQL: multi-row INSERTs);
   * `ignoreConflicts` skips rows that hit a unique key (ON CONFLICT DO NOTHING). Resolves to rows inserted.
   */
  insertRows(table: string, columns: readonly string[], rows: ReadonlyArray<readonly SqlValue[]>, opts?: { ignoreConflicts?: boolean }): Promise<number>;
}

export interface SqlDatabase extends SqlRunner {
  /**
   * Runs `fn` in one transaction and commits when it resolves (rolls back and rethrows when it throws).
   * SQLite: `BEGIN IMMEDIATE`, transactions and statements serialized so an `await` inside one cannot
   * interleave another's statements; PostgreSQL: one pooled client for the whole transaction.
   * Statements issued through this SqlDatabase from inside `fn` (its async context) run in the transaction,
   * so callers need not thread `tx` through; a nested `transaction` call joins the outer one.
   */
  transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T>;
  /**
   * Sends `payload` to every listener of `channel` on this database, this process's too (store/changes.ts is
   * what the hub uses). Inside a transaction it goes when the transaction commits, and not at all when it
   * rolls back. PostgreSQL: NOTIFY (payload under 8000 bytes); SQLite: this process's listeners (one hub).
   */
  notify(channel: string, payload: string): Promise<void>;
  /**
   * Calls `onPayload` for each notice on `channel`, and `onReset` when notices may have been missed (the
   * listening connection was lost and is back): then anything derived from earlier notices is suspect.
   * `ready` resolves once notices sent from then on are heard. PostgreSQL: LISTEN on a connection of its own.
   */
  listen(channel: string, onPayload: (payload: string) => void, onReset: () => void): { ready: Promise<void>; close(): void };
  close(): Promise<void>;
}
