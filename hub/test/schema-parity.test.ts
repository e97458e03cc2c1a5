// The two migration lists (store/migrations.ts for SQLite, store/migrations-pg.ts for PostgreSQL) must build
// the same schema: a migration added to one list and not the other fails here, before any query does.
// Compared: tables, columns (name, nullability, type family), primary keys, and named indexes with their columns.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '../../scripts/sim/postgres.js';
import { openPostgres, openSqlite } from '../src/store/index.js';

interface Schema {
  [table: string]: { columns: string[]; primaryKey: string[]; indexes: string[] };
}

// the type families both engines agree on (SQLite's declared type → what PostgreSQL's must be)
const family = (t: string): string => {
  const u = t.toUpperCase();
  if (/INT/.test(u)) return 'integer';
  if (/BLOB|BYTEA/.test(u)) return 'bytes';
  if (/REAL|DOUBLE|FLOAT|NUMERIC/.test(u)) return 'real';
  return 'text';
};

let server: PostgresServer;
const dir = mkdtempSync(join(tmpdir(), 'ef-schema-'));
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function sqliteSchema(file: string): Schema {
  const db = new Database(file, { readonly: true });
  try {
    const out: Schema = {};
    const tables = db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all();
    for (const { name } of tables) {
      const cols = db.prepare<[], { name: string; type: string; notnull: number; pk: number }>(`PRAGMA table_info("${name}")`).all();
      const indexes = db
        .prepare<[], { name: string; origin: string }>(`PRAGMA index_list("${name}")`)
        .all()
        .filter((i) => i.origin === 'c') // CREATE INDEX, not the ones PRIMARY KEY / UNIQUE make
        .map((i) => `${i.name}(${db.prepare<[], { name: string }>(`PRAGMA index_info("${i.name}")`).all().map((c) => c.name).join(',')})`)
        .sort();
      out[name] = {
        // a PRIMARY KEY column is NOT NULL on PostgreSQL whether declared or not
        columns: cols.map((c) => `${c.name}:${family(c.type)}:${c.notnull || c.pk ? 'not null' : 'null'}`).sort(),
        primaryKey: cols.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name),
        indexes,
      };
    }
    return out;
  } finally {
    db.close();
  }
}

it('SQLite and PostgreSQL migrations build the same tables, columns, keys and indexes', async () => {
  const file = join(dir, 'hub.sqlite');
  await (openSqlite(file)).close();
  const lite = sqliteSchema(file);

  const pg = await openPostgres(await server.createDatabase());
  try {
    const cols = await pg.all<{ table_name: string; column_name: string; data_type: string; is_nullable: string }>(
      "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = 'public'",
    );
    const pks = await pg.all<{ table_name: string; column_name: string; pos: number }>(
      `SELECT tc.table_name, kcu.column_name, kcu.ordinal_position AS pos FROM information_schema.table_constraints tc
       JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema
       WHERE tc.table_schema = 'public' AND tc.constraint_type = 'PRIMARY KEY'`,
    );
    const idx = await pg.all<{ table_name: string; index_name: string; columns: string }>(
      `SELECT t.relname AS table_name, i.relname AS index_name,
         string_agg(a.attname, ',' ORDER BY array_position(ix.indkey::int2[], a.attnum)) AS columns
       FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(ix.indkey)
       LEFT JOIN pg_constraint c ON c.conindid = ix.indexrelid
       WHERE n.nspname = 'public' AND c.oid IS NULL GROUP BY t.relname, i.relname`,
    );
    const pgSchema: Schema = {};
    for (const c of cols) {
      const t = (pgSchema[c.table_name] ??= { columns: [], primaryKey: [], indexes: [] });
      t.columns.push(`${c.column_name}:${family(c.data_type)}:${c.is_nullable === 'NO' ? 'not null' : 'null'}`);
    }
    for (const p of pks.sort((a, b) => a.pos - b.pos)) pgSchema[p.table_name]!.primaryKey.push(p.column_name);
    for (const i of idx) pgSchema[i.table_name]!.indexes.push(`${i.index_name}(${i.columns})`);
    for (const t of Object.values(pgSchema)) (t.columns.sort(), t.indexes.sort());

    expect(Object.keys(pgSchema).sort()).toEqual(Object.keys(lite).sort());
    for (const name of Object.keys(lite)) expect({ table: name, ...pgSchema[name] }).toEqual({ table: name, ...lite[name] });
  } finally {
    await pg.close();
  }
});
