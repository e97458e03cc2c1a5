// The SQLite backend (store/sqlite.ts) on a real file: the same SqlDatabase contract the PostgreSQL backend
// passes (hub/test/sql-postgres.test.ts), so SQL written once behaves the same on both engines.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, expect, it } from 'vitest';
import { MIGRATIONS, openSqlite, openStore } from '../src/store/index.js';
import { sqlContract } from './support/sql-contract.js';
import { storeContract } from './support/store-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'ef-sql-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

sqlContract('SQLite', async () => openSqlite(join(dir, `db-${++n}.sqlite`)));

// SQLite serves one hub process (replicas need PostgreSQL): the "two replicas" are concurrent callers of one
// Store, whose transactions the backend runs one at a time. (Two connections in one process cannot share the
// file: better-sqlite3 waits for a lock synchronously, blocking the event loop the holder needs to finish.)
storeContract('SQLite', async () => {
  const store = await openStore(join(dir, `store-${++n}.sqlite`));
  return [store, store];
});

it("keys the rollups stored before replicas had rows of their own as replica ''", async () => {
  // a database as the migrations before the replica key left it, with a rollup in it
  const file = join(dir, `old-${++n}.sqlite`);
  const old = new Database(file);
  old.exec('CREATE TABLE migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
  MIGRATIONS.slice(0, MIGRATIONS.findIndex((m) => m.includes('rollups_by_replica'))).forEach((m, i) => {
    old.exec(m);
    old.prepare('INSERT INTO migrations (version, applied_at) VALUES (?, ?)').run(i + 1, 'then');
  });
  old.exec(`INSERT INTO rollups (model, version, role, minute, inferences, errors, body) VALUES ('vib', '1.0.0', 'active', 60000, 3, 1, '{}')`);
  old.close();
  const db = openSqlite(file);
  try {
    expect(await db.all('SELECT replica, inferences, body FROM rollups')).toEqual([{ replica: '', inferences: 3, body: '{}' }]);
    await db.run(`INSERT INTO rollups (model, version, role, minute, replica, inferences, errors, body) VALUES ('vib', '1.0.0', 'active', 60000, 'b', 2, 0, '{}')`);
    expect(await db.get('SELECT COUNT(*) AS n FROM rollups')).toEqual({ n: 2 });
  } finally {
    await db.close();
  }
});
