// The captured-row part of the SQLite outbox (design §4 capture): rows wait in `captures` until a batch takes
// them (same seq on every resend), under a disk budget (oldest dropped first); drops wait in kv `capture.drops`
// until the next new batch, which keeps them in `batches.capture_drops` for its resends.

import type Database from 'better-sqlite3';
import { CAPTURE_LIMITS, type Capture } from '@edgefleet/protocol';
import type { CaptureDrops, OutboxBatch } from '../core/ports.js';

export const CAPTURE_SCHEMA = `
    CREATE TABLE IF NOT EXISTS captures (id INTEGER PRIMARY KEY AUTOINCREMENT, batch INTEGER, bytes INTEGER NOT NULL, body TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS captures_batch ON captures(batch);
`;

const anyDrops = (d: CaptureDrops | null): d is CaptureDrops => d !== null && d.quota + d.disk + d.oversized > 0;

/** Statements on `db` (inside the caller's transactions, but `append`); first adds what a data dir from before capture lacks. */
export function createCaptureOutbox(db: Database.Database) {
  db.exec(CAPTURE_SCHEMA);
  if (!db.prepare("SELECT 1 FROM pragma_table_info('batches') WHERE name = 'capture_drops'").get()) db.exec('ALTER TABLE batches ADD COLUMN capture_drops TEXT');
  const st = {
    insert: db.prepare<[number, string]>('INSERT INTO captures (batch, bytes, body) VALUES (NULL, ?, ?)'),
    total: db.prepare<[], { n: number; bytes: number }>('SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS bytes FROM captures'),
    oldest: db.prepare<[], { id: number; bytes: number }>('SELECT id, bytes FROM captures ORDER BY id'),
    del: db.prepare<[number]>('DELETE FROM captures WHERE id = ?'),
    rows: db.prepare<[number], { body: string }>('SELECT body FROM captures WHERE batch = ? ORDER BY id'),
    unassigned: db.prepare<[number], { id: number; bytes: number }>('SELECT id, bytes FROM captures WHERE batch IS NULL ORDER BY id LIMIT ?'),
    assign: db.prepare<[number, number]>('UPDATE captures SET batch = ? WHERE id = ?'),
    batchDelete: db.prepare<[number]>('DELETE FROM captures WHERE batch = ?'),
    rangeDelete: db.prepare<[number, number]>('DELETE FROM captures WHERE batch BETWEEN ? AND ?'),
    batchDrops: db.prepare<[number], { capture_drops: string | null }>('SELECT capture_drops FROM batches WHERE seq = ?'),
    setBatchDrops: db.prepare<[string, number]>('UPDATE batches SET capture_drops = ? WHERE seq = ?'),
    kvGet: db.prepare<[], { value: string }>("SELECT value FROM kv WHERE key = 'capture.drops'"),
    kvPut: db.prepare<[string]>("INSERT INTO kv (key, value) VALUES ('capture.drops', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"),
    kvDel: db.prepare("DELETE FROM kv WHERE key = 'capture.drops'"),
  };
  const pendingDrops = (): CaptureDrops => {
    const row = st.kvGet.get();
    return row ? (JSON.parse(row.value) as CaptureDrops) : { quota: 0, disk: 0, oversized: 0 };
  };

  return {
    /** Appends rows, then drops the oldest until all fit in `maxBytes`; returns the rows dropped now (one transaction). */
    append: db.transaction((rows: Capture[], maxBytes: number, drops: Omit<CaptureDrops, 'disk'>): number => {
      for (const r of rows) {
        const body = JSON.stringify(r);
        st.insert.run(Buffer.byteLength(body), body);
      }
      let total = st.total.get()!.bytes;
      let dropped = 0;
      if (total > maxBytes) {
        for (const row of st.oldest.all()) {
          if (total <= maxBytes) break;
          st.del.run(row.id);
          total -= row.bytes;
          dropped++;
        }
      }
      if (dropped + drops.quota + drops.oversized > 0) {
        const d = pendingDrops();
        st.kvPut.run(JSON.stringify({ quota: d.quota + drops.quota, disk: d.disk + dropped, oversized: d.oversized + drops.oversized }));
      }
      return dropped;
    }) as (rows: Capture[], maxBytes: number, drops: Omit<CaptureDrops, 'disk'>) => number,
    /** The captures part of batch `seq` as it was made. */
    ofBatch(seq: number): Pick<OutboxBatch, 'captures' | 'capturesDropped'> {
      const rows = st.rows.all(seq).map((r) => JSON.parse(r.body) as Capture);
      const raw = st.batchDrops.get(seq)?.capture_drops ?? null;
      const drops = raw === null ? null : (JSON.parse(raw) as CaptureDrops);
      return { ...(rows.length > 0 ? { captures: rows } : {}), ...(anyDrops(drops) ? { capturesDropped: drops } : {}) };
    },
    /** Whether a new batch has captured rows or drops to carry. */
    waiting: (): boolean => st.unassigned.all(1).length > 0 || anyDrops(pendingDrops()),
    /** Puts unsent rows into new batch `seq` while they fit in `bytesLeft`, with the pending drops. */
    fill(seq: number, bytesLeft: number): void {
      let bytes = 0;
      for (const row of st.unassigned.all(CAPTURE_LIMITS.rowsPerBatch)) {
        if (bytes + row.bytes > bytesLeft) break;
        bytes += row.bytes;
        st.assign.run(seq, row.id);
      }
      const drops = pendingDrops();
      if (anyDrops(drops)) {
        st.setBatchDrops.run(JSON.stringify(drops), seq);
        st.kvDel.run();
      }
    },
    deleteBatch: (seq: number) => st.batchDelete.run(seq),
    deleteRange: (from: number, to: number) => st.rangeDelete.run(from, to),
    size(): { rows: number; bytes: number } {
      const t = st.total.get()!;
      return { rows: t.n, bytes: t.bytes };
    },
  };
}
