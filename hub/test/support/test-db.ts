// Which database a test hub runs on. By default its SQLite file in the data dir; with EDGEFLEET_TEST_DB=postgres
// (the `postgres` test project, vitest.config.ts) a database of its own on a throwaway PostgreSQL server, one
// server per test worker, started on first use and stopped when the worker exits. A hub restarted on the same
// data dir gets the same database back, as a restarted replica would.
import { startPostgres, type PostgresServer } from '../../../scripts/sim/postgres.js';

export const onPostgres = process.env.EDGEFLEET_TEST_DB === 'postgres';

/** The key-encryption key of test hubs on PostgreSQL, which keep their keys sealed in the database (32 bytes, base64). */
export const TEST_KEK = Buffer.alloc(32, 7).toString('base64');

let server: Promise<PostgresServer> | null = null;
const byDataDir = new Map<string, Promise<string>>();

/** `--db` for a hub on `dataDir`: undefined on SQLite (the hub's default), else this data dir's PostgreSQL database. */
export function testDb(dataDir: string): Promise<string | undefined> {
  if (!onPostgres) return Promise.resolve(undefined);
  if (!server) {
    server = startPostgres();
    process.once('beforeExit', () => void server?.then((s) => s.stop()));
  }
  let url = byDataDir.get(dataDir);
  if (!url) byDataDir.set(dataDir, (url = server.then((s) => s.createDatabase())));
  return url;
}
