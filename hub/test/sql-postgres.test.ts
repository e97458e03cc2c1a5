// The PostgreSQL backend (store/postgres.ts) on a throwaway server: the SqlDatabase contract, its migrations
// (applied once when replicas start together), and what only this backend has to get right.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '../../scripts/sim/postgres.js';
import { openPostgres, openStore, PG_MIGRATIONS, type SqlDatabase, type SqlRunner } from '../src/store/index.js';
import { toPositional } from '../src/store/postgres-sql.js';
import { sqlContract } from './support/sql-contract.js';
import { storeContract } from './support/store-contract.js';

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
});

sqlContract('PostgreSQL', async () => openPostgres(await server.createDatabase()));

// two Stores (two pools) on one database: two replicas
storeContract('PostgreSQL', async () => {
  const url = await server.createDatabase();
  const first = await openStore(url);
  return [first, await openStore(url)];
});

describe('PostgreSQL change notices', () => {
  it('reach another replica on commit, and a listener that lost its connection reconnects and reports a reset', async () => {
    const url = await server.createDatabase();
    const [a, b] = [await openStore(url), await openStore(url)];
    try {
      const heard: Array<string | null> = [];
      b.changes.subscribe('thing', (k) => heard.push(k));
      await b.changes.ready();
      await a.transaction(() => a.changes.publish('thing', 'k1'));
      for (let i = 0; i < 200 && heard.length < 1; i++) await new Promise((r) => setTimeout(r, 10));
      expect(heard).toEqual(['k1']);
      // the server ends b's listening session (a restart, a network cut): what was sent meanwhile is gone,
      // so b's subscribers are told to drop everything once it listens again
      const raw = await openPostgres(url, { migrate: false });
      await raw.run("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'");
      await raw.close();
      for (let i = 0; i < 500 && !heard.includes(null); i++) await new Promise((r) => setTimeout(r, 10));
      expect(heard).toEqual(['k1', null]);
      await a.changes.publish('thing', 'k2');
      for (let i = 0; i < 200 && heard.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
      expect(heard).toEqual(['k1', null, 'k2']);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('PostgreSQL store', () => {
  it('applies its migrations exactly once when several hubs open one fresh database at once', async () => {
    const url = await server.createDatabase();
    const dbs = await Promise.all([openPostgres(url), openPostgres(url), openPostgres(url)]);
    try {
      const rows = await dbs[0]!.all<{ version: number }>('SELECT version FROM migrations ORDER BY version');
      expect(rows.map((r) => r.version)).toEqual(PG_MIGRATIONS.map((_, i) => i + 1));
      expect(await dbs[2]!.get('SELECT COUNT(*) AS n FROM devices')).toEqual({ n: 0 });
    } finally {
      await Promise.all(dbs.map((d) => d.close()));
    }
    // and a later start finds nothing to do
    const again = await openPostgres(url);
    expect(await again.get('SELECT COUNT(*) AS n FROM migrations')).toEqual({ n: PG_MIGRATIONS.length });
    await again.close();
  });

  it('applies a migration added later, and only that one, on the next start', async () => {
    const url = await server.createDatabase();
    await (await openPostgres(url)).close();
    const extra = [...PG_MIGRATIONS, 'CREATE TABLE later_one (id BIGINT PRIMARY KEY)'];
    const db = await openPostgres(url, { migrations: extra });
    try {
      expect(await db.get('SELECT MAX(version) AS v FROM migrations')).toEqual({ v: extra.length });
      expect(await db.run('INSERT INTO later_one (id) VALUES (1)')).toBe(1);
    } finally {
      await db.close();
    }
  });

  it('keys the rollups stored before replicas had rows of their own as replica \'\'', async () => {
    const url = await server.createDatabase();
    const before = PG_MIGRATIONS.findIndex((m) => m.includes('ADD COLUMN replica'));
    const old = await openPostgres(url, { migrations: PG_MIGRATIONS.slice(0, before) });
    await old.run(`INSERT INTO rollups (model, version, role, minute, inferences, errors, body) VALUES ('vib', '1.0.0', 'active', 60000, 3, 1, '{}')`);
    await old.close();
    const db = await openPostgres(url);
    try {
      expect(await db.all('SELECT replica, inferences FROM rollups')).toEqual([{ replica: '', inferences: 3 }]);
      // another replica's row of the same minute is a row of its own
      await db.run(`INSERT INTO rollups (model, version, role, minute, replica, inferences, errors, body) VALUES ('vib', '1.0.0', 'active', 60000, 'b', 2, 0, '{}')`);
      expect(await db.get('SELECT COUNT(*) AS n FROM rollups')).toEqual({ n: 2 });
    } finally {
      await db.close();
    }
  });

  it('refuses to open when a migration fails, and records nothing of it', async () => {
    const url = await server.createDatabase();
    await expect(openPostgres(url, { migrations: [...PG_MIGRATIONS, 'CREATE TABLE devices (id TEXT)'] })).rejects.toThrow(`migration ${PG_MIGRATIONS.length + 1} failed`);
    const db = await openPostgres(url);
    expect(await db.get('SELECT MAX(version) AS v FROM migrations')).toEqual({ v: PG_MIGRATIONS.length });
    await db.close();
  });

  describe('on the hub schema', () => {
    let db: SqlDatabase;
    beforeAll(async () => {
      db = await openPostgres(await server.createDatabase());
    });
    afterAll(async () => {
      await db?.close();
    });

    it('keeps epoch-ms BIGINTs, quoted `end`, identity ids and the enrolment codes’ cascade', async () => {
      await db.run(`INSERT INTO devices (id, token_hash, created_at) VALUES ('d1', 'h', 'now')`);
      await db.run(`INSERT INTO enrolment_codes (hash, device_id, created_at, created_by, expires_at) VALUES ('c', 'd1', 'now', 'op', 'later')`);
      const cols = ['device_id', 'model', 'version', 'role', 'start', 'end', 'inferences', 'body', 'received_at'];
      const t = 1_764_633_600_000;
      expect(await db.insertRows('telemetry_windows', cols, [['d1', 'm', '1', 'primary', t, t + 60_000, 5, '{}', t]])).toBe(1);
      expect(await db.get('SELECT id, "end" FROM telemetry_windows')).toEqual({ id: 1, end: t + 60_000 });
      await db.run("DELETE FROM devices WHERE id = 'd1'");
      expect(await db.get('SELECT COUNT(*) AS n FROM enrolment_codes')).toEqual({ n: 0 });
    });

    it('sorts text bytewise, as SQLite does, whatever the database’s locale', async () => {
      for (const id of ['b', 'B', 'a-1', 'a_1', 'a1', 'Z']) await db.run('INSERT INTO tokens (id, hash, role, created_at) VALUES (@id, @id, @r, @r)', { id, r: 'x' });
      const rows = await db.all<{ id: string }>('SELECT id FROM tokens ORDER BY id');
      expect(rows.map((r) => r.id)).toEqual(['B', 'Z', 'a-1', 'a1', 'a_1', 'b']);
    });
  });

  it('writes a large insertRows all or nothing: a conflict in its last chunk leaves none of it', async () => {
    const db = await openPostgres(await server.createDatabase());
    try {
      await db.run('CREATE TABLE many (a BIGINT PRIMARY KEY, b BIGINT NOT NULL)');
      await db.run('INSERT INTO many (a, b) VALUES (39999, 0)');
      const rows = Array.from({ length: 40_000 }, (_, i) => [i, i]); // two chunks of 32,767 and 7,233 rows
      await expect(db.insertRows('many', ['a', 'b'], rows)).rejects.toThrow();
      expect(await db.get('SELECT COUNT(*) AS n FROM many')).toEqual({ n: 1 });
    } finally {
      await db.close();
    }
  });

  it('refuses an int8 beyond 2^53 rather than rounding it', async () => {
    const db = await openPostgres(await server.createDatabase(), { migrate: false });
    try {
      expect(await db.get("SELECT CAST('9007199254740991' AS bigint) AS n")).toEqual({ n: Number.MAX_SAFE_INTEGER });
      await expect(db.get("SELECT CAST('9007199254740993' AS bigint) AS n")).rejects.toThrow(/2\^53/);
    } finally {
      await db.close();
    }
  });

  it('runs a transaction on one connection of its own: the database’s other statements go to other connections', async () => {
    const db = await openPostgres(await server.createDatabase(), { max: 2, migrate: false });
    const pid = async (on: SqlRunner) => (await on.get<{ p: number }>('SELECT pg_backend_pid() AS p'))!.p;
    try {
      let started!: () => void;
      const open = new Promise<void>((r) => (started = r));
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const inTx = db.transaction(async (tx) => {
        const ids = [await pid(tx), await pid(db), await pid(tx)]; // db inside fn: the transaction's connection
        started();
        await gate;
        return ids;
      });
      await open;
      const outside = await pid(db);
      release();
      const ids = await inTx;
      expect(new Set(ids).size).toBe(1);
      expect(outside).not.toBe(ids[0]);
    } finally {
      await db.close();
    }
  });
});

describe('named parameters to positional ones', () => {
  it('numbers names in order of first use and reuses a repeated one', () => {
    expect(toPositional('SELECT @b, @a, @b')).toEqual({ text: 'SELECT $1, $2, $1', names: ['b', 'a'] });
  });

  it('leaves literals, quoted identifiers, comments, dollar quotes, casts and @ operators alone', () => {
    const sql = `SELECT 'a@b', E'x\\'@y', "c@d", $$@e$$, $t$@f$t$, tags::jsonb @> @want::jsonb, a <@ b, x@@y -- @g\n/* @h */ FROM t WHERE id=@id`;
    const t = toPositional(sql);
    expect(t.names).toEqual(['want', 'id']);
    expect(t.text).toBe(`SELECT 'a@b', E'x\\'@y', "c@d", $$@e$$, $t$@f$t$, tags::jsonb @> $1::jsonb, a <@ b, x@@y -- @g\n/* @h */ FROM t WHERE id=$2`);
  });
});
