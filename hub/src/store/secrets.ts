// The hub's keys and shared secrets as rows (design §8: replicas on one PostgreSQL database share one set):
// what a row holds is trust/'s business (sealed private keys, the signed keyring); here only how rows are
// created once, read, and replaced by compare-and-set on their `version`.

import type { SqlDatabase } from './sql.js';

export interface SecretRow {
  name: string;
  value: string;
  /** 1 when created, + 1 on every replace: a replica that saw another version re-reads the row. */
  version: number;
  updatedAt: string;
}

/** Advisory key under which replicas create and replace secrets one at a time ('edge' · 0x13). */
const SECRETS_LOCK = 0x6564_6765_0013;

export function createSecretSql(sql: SqlDatabase) {
  return {
    all: (): Promise<SecretRow[]> => sql.all<SecretRow>('SELECT name, value, version, updated_at AS "updatedAt" FROM hub_secrets ORDER BY name'),
    /** Name and version of every row: the cheap poll that tells a replica something changed. */
    versions: (): Promise<Array<{ name: string; version: number }>> => sql.all('SELECT name, version FROM hub_secrets ORDER BY name'),
    /**
     * Runs `fn` in one transaction holding the secrets lock (PostgreSQL: a transaction advisory lock; SQLite's
     * transactions run one at a time anyway): two replicas starting at once cannot both find the table empty.
     */
    exclusive: <T>(fn: () => Promise<T>): Promise<T> =>
      sql.transaction(async (tx) => {
        if (tx.dialect.name === 'postgres') await tx.get('SELECT pg_advisory_xact_lock(@key) AS locked', { key: SECRETS_LOCK });
        return fn();
      }),
    /** Creates the rows that do not exist yet; an existing row is kept as it is. Resolves to rows created. */
    async insertMissing(rows: ReadonlyArray<{ name: string; value: string }>, at: string): Promise<number> {
      let n = 0;
      for (const r of rows) n += await sql.run('INSERT INTO hub_secrets (name, value, updated_at) VALUES (@name, @value, @at) ON CONFLICT DO NOTHING', { name: r.name, value: r.value, at });
      return n;
    },
    /** Replaces a row only while it is still at `version`; false when another replica changed it first. */
    replace: async (name: string, value: string, version: number, at: string): Promise<boolean> =>
      (await sql.run('UPDATE hub_secrets SET value = @value, version = version + 1, updated_at = @at WHERE name = @name AND version = @version', { name, value, version, at })) > 0,
  };
}

export type SecretSql = ReturnType<typeof createSecretSql>;
