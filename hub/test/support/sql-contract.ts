// The SqlDatabase contract (store/sql.ts), one suite every backend runs (SQLite, PostgreSQL), as the agent's
// store suite does for its stores: statements, named parameters, numbers, bytes, set-based inserts, each
// Dialect fragment against real rows, and transactions (commit, rollback, isolation, nesting, their end).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SqlDatabase, SqlRunner } from '../../src/store/index.js';

const EPOCH_MS = 1_764_633_600_123; // beyond int4: a BIGINT column must keep it

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

/** Test tables in DDL both engines run; only the byte type is spelled differently. */
async function createTables(db: SqlDatabase): Promise<void> {
  const bytes = db.dialect.name === 'postgres' ? 'BYTEA' : 'BLOB';
  await db.run('CREATE TABLE c_items (id TEXT PRIMARY KEY, n BIGINT NOT NULL, note TEXT)');
  await db.run(`CREATE TABLE c_blobs (id TEXT PRIMARY KEY, data ${bytes} NOT NULL)`);
  await db.run('CREATE TABLE c_wide (a BIGINT NOT NULL, b TEXT NOT NULL, c BIGINT NOT NULL, PRIMARY KEY (a))');
  await db.run('CREATE TABLE c_docs (id BIGINT PRIMARY KEY, name TEXT NOT NULL, body TEXT NOT NULL, x BIGINT, y BIGINT)');
}

const count = async (on: SqlRunner, table = 'c_items') => (await on.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`))!.n;

export function sqlContract(name: string, open: () => Promise<SqlDatabase>): void {
  describe(`SqlDatabase contract: ${name}`, () => {
    let db: SqlDatabase;
    beforeEach(async () => {
      db = await open();
      await createTables(db);
    });
    afterEach(async () => {
      await db.close();
    });

    it('runs statements: run counts changed rows, get gives the first row or undefined, all gives every row', async () => {
      expect(await db.run('INSERT INTO c_items (id, n) VALUES (@id, @n)', { id: 'a', n: 1 })).toBe(1);
      expect(await db.run('INSERT INTO c_items (id, n, note) VALUES (@id, @n, @note)', { id: 'b', n: 2, note: 'two' })).toBe(1);
      expect(await db.get('SELECT id, n, note FROM c_items WHERE id = @id', { id: 'b' })).toEqual({ id: 'b', n: 2, note: 'two' });
      expect(await db.get('SELECT id FROM c_items WHERE id = @id', { id: 'zz' })).toBeUndefined();
      expect(await db.all('SELECT id, note FROM c_items ORDER BY id')).toEqual([
        { id: 'a', note: null },
        { id: 'b', note: 'two' },
      ]);
      expect(await db.run('UPDATE c_items SET n = n + 10')).toBe(2);
      expect(await db.run('DELETE FROM c_items WHERE id = @id', { id: 'nope' })).toBe(0);
    });

    it('binds a repeated name once, leaves @ inside literals and quoted identifiers alone, and refuses a missing name', async () => {
      await db.run('INSERT INTO c_items (id, n, note) VALUES (@id, @n, @id)', { id: 'x@y', n: 3 });
      expect(await db.get('SELECT note FROM c_items WHERE id = @id AND note = @id', { id: 'x@y' })).toEqual({ note: 'x@y' });
      const row = await db.get<{ email: string; "odd@name": string; id: string }>(
        `SELECT 'ops@example.org' AS email, 'it''s @not a param' AS "odd@name", id FROM c_items WHERE id = @key -- @comment
         /* @neither */`,
        { key: 'x@y' },
      );
      expect(row).toEqual({ email: 'ops@example.org', 'odd@name': "it's @not a param", id: 'x@y' });
      await expect(db.get('SELECT id FROM c_items WHERE id = @absent', {})).rejects.toThrow();
    });

    it('gives numbers back as JS numbers: COUNT, SUM, and BIGINT epoch milliseconds', async () => {
      for (const [i, n] of [EPOCH_MS, 2, 3].entries()) await db.run('INSERT INTO c_items (id, n) VALUES (@id, @n)', { id: `i${i}`, n });
      const r = await db.get<{ c: number; s: number; m: number }>('SELECT COUNT(*) AS c, SUM(n) AS s, MAX(n) AS m FROM c_items');
      expect(r).toEqual({ c: 3, s: EPOCH_MS + 5, m: EPOCH_MS });
      expect(typeof r!.c).toBe('number');
      expect((await db.get<{ n: number }>('SELECT n FROM c_items WHERE n > @after', { after: EPOCH_MS - 1 }))!.n).toBe(EPOCH_MS);
    });

    it('round-trips bytes (every byte value) through a BLOB/BYTEA column', async () => {
      const data = new Uint8Array(256).map((_, i) => i);
      await db.run('INSERT INTO c_blobs (id, data) VALUES (@id, @data)', { id: 'all', data });
      await db.run('INSERT INTO c_blobs (id, data) VALUES (@id, @data)', { id: 'part', data: data.subarray(250, 253) });
      const all = await db.get<{ data: Uint8Array }>('SELECT data FROM c_blobs WHERE id = @id', { id: 'all' });
      expect(all!.data).toBeInstanceOf(Uint8Array);
      expect([...all!.data]).toEqual([...data]);
      const part = await db.get<{ data: Uint8Array }>('SELECT data FROM c_blobs WHERE id = @id', { id: 'part' });
      expect([...part!.data]).toEqual([250, 251, 252]);
    });

    it('inserts many rows set-based, past PostgreSQL’s 65,535-parameter limit for one statement', async () => {
      const rows = Array.from({ length: 30_000 }, (_, i) => [i, `b${i}`, i * 2]); // 90,000 values
      expect(await db.insertRows('c_wide', ['a', 'b', 'c'], rows)).toBe(30_000);
      expect(await db.get('SELECT COUNT(*) AS n, SUM(c) AS s FROM c_wide')).toEqual({ n: 30_000, s: 29_999 * 30_000 });
      expect(await db.get('SELECT b FROM c_wide WHERE a = 29999')).toEqual({ b: 'b29999' });
      expect(await db.insertRows('c_wide', ['a', 'b', 'c'], [])).toBe(0);
    });

    it('skips rows that hit a unique key with ignoreConflicts and counts only those inserted; refuses them without', async () => {
      await db.insertRows('c_items', ['id', 'n'], [['a', 1], ['b', 2]]);
      const rows = [['a', 10], ['c', 3], ['b', 20], ['d', 4]];
      expect(await db.insertRows('c_items', ['id', 'n'], rows, { ignoreConflicts: true })).toBe(2);
      expect(await db.all('SELECT id, n FROM c_items ORDER BY id')).toEqual([
        { id: 'a', n: 1 },
        { id: 'b', n: 2 },
        { id: 'c', n: 3 },
        { id: 'd', n: 4 },
      ]);
      await expect(db.insertRows('c_items', ['id', 'n'], [['e', 5], ['a', 6]])).rejects.toThrow();
      expect(await count(db)).toBe(4);
    });

    describe('dialect', () => {
      beforeEach(async () => {
        const docs = [
          [1, 'North', { tags: { site: 'north', rack: 'a1' }, meta: { deep: { k: 'v1' } }, "it's": 'quoted', n: 7 }, 5, 9],
          [2, 'south', { tags: { site: 'south' }, meta: {}, n: 8 }, 12, 3],
          [3, "O'Brien", { tags: {}, meta: { deep: { k: 'v3' } } }, 4, 4],
        ] as const;
        await db.insertRows('c_docs', ['id', 'name', 'body', 'x', 'y'], docs.map(([id, name, body, x, y]) => [id, name, JSON.stringify(body), x, y]));
      });

      it('jsonText reads a literal key, a nested path, a key bound as a parameter, and NULL where absent', async () => {
        const d = db.dialect;
        const rows = await db.all<{ id: number; site: string | null; k: string | null; q: string | null; by: string | null }>(
          `SELECT id, ${d.jsonText('body', ['tags', 'site'])} AS site, ${d.jsonText('body', ['meta', 'deep', 'k'])} AS k,
             ${d.jsonText('body', ["it's"])} AS q, ${d.jsonText('body', ['tags', { param: 'tag' }])} AS by
           FROM c_docs ORDER BY id`,
          { tag: 'rack' },
        );
        expect(rows).toEqual([
          { id: 1, site: 'north', k: 'v1', q: 'quoted', by: 'a1' },
          { id: 2, site: 'south', k: null, q: null, by: null },
          { id: 3, site: null, k: 'v3', q: null, by: null },
        ]);
        const where = await db.all<{ id: number }>(`SELECT id FROM c_docs WHERE ${d.jsonText('body', [{ param: 'top' }])} IS NOT NULL ORDER BY id`, { top: 'n' });
        expect(where.map((r) => r.id)).toEqual([1, 2]);
      });

      it('jsonEach gives one (key, value) row per member of the object at a path', async () => {
        const rows = await db.all<{ id: number; key: string; value: string }>(
          `SELECT c_docs.id AS id, t.key AS key, t.value AS value FROM c_docs, ${db.dialect.jsonEach('c_docs.body', ['tags'], 't')} ORDER BY c_docs.id, t.key`,
        );
        expect(rows).toEqual([
          { id: 1, key: 'rack', value: 'a1' },
          { id: 1, key: 'site', value: 'north' },
          { id: 2, key: 'site', value: 'south' },
        ]);
        const facets = await db.all<{ key: string; n: number }>(
          `SELECT t.key AS key, COUNT(*) AS n FROM c_docs, ${db.dialect.jsonEach('c_docs.body', ['tags'], 't')} GROUP BY t.key ORDER BY t.key`,
        );
        expect(facets).toEqual([
          { key: 'rack', n: 1 },
          { key: 'site', n: 2 },
        ]);
      });

      it('inJsonArray matches a column against the strings of a JSON array parameter', async () => {
        const ids = async (names: string[]) =>
          (await db.all<{ id: number }>(`SELECT id FROM c_docs WHERE ${db.dialect.inJsonArray('name', 'names')} ORDER BY id`, { names: JSON.stringify(names) })).map((r) => r.id);
        expect(await ids(['south', "O'Brien", 'nobody'])).toEqual([2, 3]);
        expect(await ids([])).toEqual([]);
      });

      it('greatest gives the larger of two values; ilike matches regardless of ASCII case', async () => {
        const g = await db.all<{ id: number; g: number }>(`SELECT id, ${db.dialect.greatest('x', 'y')} AS g FROM c_docs ORDER BY id`);
        expect(g).toEqual([
          { id: 1, g: 9 },
          { id: 2, g: 12 },
          { id: 3, g: 4 },
        ]);
        const like = async (pattern: string) =>
          (await db.all<{ id: number }>(`SELECT id FROM c_docs WHERE name ${db.dialect.ilike} @pattern ORDER BY id`, { pattern })).map((r) => r.id);
        expect(await like('NORTH')).toEqual([1]);
        expect(await like('%o%')).toEqual([1, 2, 3]);
        expect(await like("o'b%")).toEqual([3]);
      });
    });

    describe('transactions', () => {
      it('commits when fn resolves and resolves to its value', async () => {
        const v = await db.transaction(async (tx) => {
          await tx.run("INSERT INTO c_items (id, n) VALUES ('a', 1)");
          await tick();
          await tx.run("INSERT INTO c_items (id, n) VALUES ('b', 2)");
          return count(tx);
        });
        expect(v).toBe(2);
        expect(await count(db)).toBe(2);
      });

      it('rolls back everything, statements issued through the database inside fn included, when fn throws', async () => {
        await db.run("INSERT INTO c_items (id, n) VALUES ('kept', 0)");
        const boom = new Error('boom');
        await expect(
          db.transaction(async (tx) => {
            await tx.run("INSERT INTO c_items (id, n) VALUES ('a', 1)");
            await tick();
            await db.run("INSERT INTO c_items (id, n) VALUES ('b', 2)"); // not through tx: still in the transaction
            await db.run("UPDATE c_items SET n = 99 WHERE id = 'kept'");
            expect(await count(db)).toBe(3);
            throw boom;
          }),
        ).rejects.toBe(boom);
        expect(await db.all('SELECT id, n FROM c_items')).toEqual([{ id: 'kept', n: 0 }]);
      });

      it('keeps a transaction’s partial state from another transaction running at once', async () => {
        const seen: number[] = [];
        const writer = (prefix: string) =>
          db.transaction(async (tx) => {
            seen.push(await count(tx));
            await tx.run('INSERT INTO c_items (id, n) VALUES (@id, 1)', { id: `${prefix}1` });
            await tick(10);
            seen.push(await count(tx));
            await tx.run('INSERT INTO c_items (id, n) VALUES (@id, 2)', { id: `${prefix}2` });
            await tick(10);
          });
        const reader = db.transaction(async (tx) => {
          for (let i = 0; i < 5; i++) {
            seen.push(await count(tx));
            await tick(4);
          }
        });
        await Promise.all([writer('a'), writer('b'), reader]);
        expect(await count(db)).toBe(4);
        // a transaction sees its own row and the other's committed pairs, never half of another's pair
        expect(seen.every((n) => [0, 1, 2, 3, 4].includes(n))).toBe(true);
        expect(seen.filter((n) => n % 2 === 1).length).toBeLessThanOrEqual(2);
        const rows = await db.all<{ id: string }>('SELECT id FROM c_items ORDER BY id');
        expect(rows.map((r) => r.id)).toEqual(['a1', 'a2', 'b1', 'b2']);
      });

      it('does not take a statement from outside into an open transaction: it survives the rollback', async () => {
        let inside!: () => void;
        const started = new Promise<void>((r) => (inside = r));
        let fail!: () => void;
        const gate = new Promise<void>((r) => (fail = r));
        const txDone = db.transaction(async (tx) => {
          await tx.run("INSERT INTO c_items (id, n) VALUES ('in', 1)");
          inside();
          await gate;
          throw new Error('rolled back');
        });
        await started;
        const outside = db.run("INSERT INTO c_items (id, n) VALUES ('out', 2)"); // the test's context, not fn's
        await tick(20);
        fail();
        await expect(txDone).rejects.toThrow('rolled back');
        expect(await outside).toBe(1);
        expect(await db.all('SELECT id FROM c_items')).toEqual([{ id: 'out' }]);
      });

      it('joins a nested transaction to the outer one: it commits and rolls back with it', async () => {
        const inner = await db.transaction(async () => {
          await db.run("INSERT INTO c_items (id, n) VALUES ('o', 1)");
          return db.transaction(async (tx) => {
            await tx.run("INSERT INTO c_items (id, n) VALUES ('i', 2)");
            return count(tx);
          });
        });
        expect(inner).toBe(2);
        await expect(
          db.transaction(async (tx) => {
            await db.transaction((t) => t.run("INSERT INTO c_items (id, n) VALUES ('gone', 3)"));
            await tx.run("INSERT INTO c_items (id, n) VALUES ('gone2', 4)");
            throw new Error('outer fails');
          }),
        ).rejects.toThrow('outer fails');
        expect((await db.all<{ id: string }>('SELECT id FROM c_items ORDER BY id')).map((r) => r.id)).toEqual(['i', 'o']);
      });

      it('refuses statements on a transaction after it ended, committed or rolled back', async () => {
        let kept!: SqlRunner;
        await db.transaction(async (tx) => {
          kept = tx;
        });
        await expect(kept.run("INSERT INTO c_items (id, n) VALUES ('late', 1)")).rejects.toThrow();
        await db.transaction(async (tx) => {
          kept = tx;
          throw new Error('x');
        }).catch(() => undefined);
        await expect(kept.get('SELECT 1 AS one')).rejects.toThrow();
        expect(await count(db)).toBe(0);
      });
    });

    it('delivers a notice sent inside a transaction after it commits, in order, and none of a rolled-back one', async () => {
      const heard: string[] = [];
      const l = db.listen('c_channel', (p) => heard.push(p), () => heard.push('<reset>'));
      await l.ready;
      await db.transaction(async () => {
        await db.notify('c_channel', 'first');
        await db.notify('c_channel', 'second');
        await db.run("INSERT INTO c_items (id, n) VALUES ('t', 1)");
        await tick(30);
        expect(heard).toEqual([]); // not before the commit
      });
      await db.transaction(async () => {
        await db.notify('c_channel', 'never');
        throw new Error('roll back');
      }).catch(() => undefined);
      await db.notify('c_channel', 'outside');
      await db.notify('another_channel', 'not this one');
      for (let i = 0; i < 200 && heard.length < 3; i++) await tick(10);
      await tick(30);
      expect(heard).toEqual(['first', 'second', 'outside']);
      l.close();
      await db.notify('c_channel', 'after close');
      await tick(50);
      expect(heard).toHaveLength(3);
    });

    it('refuses statements after close', async () => {
      const other = await open();
      await other.close();
      await expect(other.get('SELECT 1 AS one')).rejects.toThrow();
    });
  });
}
