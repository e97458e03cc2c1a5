// The SQLite backend (store/sqlite.ts) on a real file: the same SqlDatabase contract the PostgreSQL backend
// passes (hub/test/sql-postgres.test.ts), so SQL written once behaves the same on both engines.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { openSqlite } from '../src/store/index.js';
import { sqlContract } from './support/sql-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'ef-sql-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

sqlContract('SQLite', async () => openSqlite(join(dir, `db-${++n}.sqlite`)));
