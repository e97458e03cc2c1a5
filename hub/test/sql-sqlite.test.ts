// The SQLite backend (store/sqlite.ts) on a real file: the same SqlDatabase contract the PostgreSQL backend
// passes (hub/test/sql-postgres.test.ts), so SQL written once behaves the same on both engines.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { openSqlite, openStore } from '../src/store/index.js';
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
