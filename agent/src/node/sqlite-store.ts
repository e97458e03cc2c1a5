// AgentStore on the local disk (design §5 "State"): better-sqlite3 (WAL) for state, the outbox and the
// late-label index; model files named by sha256 under <data>/models/, written partial → fsync → rename.

import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { EdgefleetError, type TelemetryWindow } from '@edgefleet/protocol';
import type { AgentStore, OutboxBatch, PredictionRecord } from '../core/ports.js';
import { createCaptureOutbox } from './sqlite-captures.js';
import { acquireLock, isDiskFull } from './data-dir-lock.js';

export interface SqliteStoreOptions {
  dataDir: string;
  /** Late-label index rows kept (oldest deleted first). */
  maxPredictions?: number;
}

const SHA = /^[0-9a-f]{64}$/;

function checkSha(sha256: string): string {
  if (!SHA.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
  return sha256;
}

/** fsync a directory so a rename in it survives power loss. */
async function fsyncDir(dir: string): Promise<void> {
  try {
    const fh = await fs.promises.open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // some filesystems refuse fsync on directories; the rename is still atomic
  }
}

/** A full disk becomes DISK_FULL (design §10); anything else is returned as it is. */
function asDiskFull(what: string, err: unknown): unknown {
  return isDiskFull(err) && !(err instanceof EdgefleetError) ? new EdgefleetError('DISK_FULL', `${what}: no space left in the data dir (${String(err)})`, { cause: err }) : err;
}

function writing<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw asDiskFull(what, err);
  }
}

async function writingAsync<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw asDiskFull(what, err);
  }
}


export function openSqliteStore(options: SqliteStoreOptions): AgentStore {
  const modelsDir = path.join(options.dataDir, 'models');
  fs.mkdirSync(modelsDir, { recursive: true });
  const unlock = acquireLock(options.dataDir);
  const maxPredictions = options.maxPredictions ?? 100_000;
  const db = new Database(path.join(options.dataDir, 'agent.db'));
  // Opening must not need a free byte (design §5 offline first: a full disk still serves what is on it).
  // Exclusive locking keeps the WAL index in memory instead of a -shm file that would have to be created
  // and grown; one agent per data dir (the lock above) is all that ever opens this database.
  db.pragma('locking_mode = EXCLUSIVE');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  const tables = ['kv', 'outbox', 'batches', 'predictions', 'partials'];
  const present = db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").all().map((r) => r.name);
  // the schema is written once; a start with nothing to change writes nothing
  if (!tables.every((t) => present.includes(t))) db.exec(`
    CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, batch INTEGER, bytes INTEGER NOT NULL, body TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS outbox_batch ON outbox(batch);
    CREATE TABLE IF NOT EXISTS batches (seq INTEGER PRIMARY KEY, dropped INTEGER NOT NULL, sent_at INTEGER);
    CREATE TABLE IF NOT EXISTS predictions (n INTEGER PRIMARY KEY AUTOINCREMENT, model TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, UNIQUE(model, id));
    CREATE TABLE IF NOT EXISTS partials (sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, chunks INTEGER NOT NULL, bitmap BLOB NOT NULL);
  `);
  // a data dir from before confirmations (design §4): its batches were never kept past the PUBACK
  if (!db.prepare("SELECT 1 FROM pragma_table_info('batches') WHERE name = 'sent_at'").get()) db.exec('ALTER TABLE batches ADD COLUMN sent_at INTEGER');
  const captures = createCaptureOutbox(db); // design §4 capture: its table, also in a data dir from before it
  const st = {
    get: db.prepare<[string], { value: string }>('SELECT value FROM kv WHERE key = ?'),
    put: db.prepare<[string, string]>('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
    del: db.prepare<[string]>('DELETE FROM kv WHERE key = ?'),
    partialGet: db.prepare<[string], { size: number; chunks: number; bitmap: Buffer }>('SELECT size, chunks, bitmap FROM partials WHERE sha256 = ?'),
    partialPut: db.prepare<[string, number, number, Buffer]>(
      'INSERT INTO partials (sha256, size, chunks, bitmap) VALUES (?, ?, ?, ?) ON CONFLICT(sha256) DO UPDATE SET size = excluded.size, chunks = excluded.chunks, bitmap = excluded.bitmap',
    ),
    partialBitmap: db.prepare<[Buffer, string]>('UPDATE partials SET bitmap = ? WHERE sha256 = ?'),
    partialDel: db.prepare<[string]>('DELETE FROM partials WHERE sha256 = ?'),
    partialList: db.prepare<[], { sha256: string }>('SELECT sha256 FROM partials'),
    outboxInsert: db.prepare<[number, string]>('INSERT INTO outbox (batch, bytes, body) VALUES (NULL, ?, ?)'),
    outboxCount: db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM outbox'),
    outboxOldest: db.prepare<[number], { id: number }>('SELECT id FROM outbox ORDER BY id LIMIT ?'),
    outboxDelete: db.prepare<[number]>('DELETE FROM outbox WHERE id = ?'),
    batchOpen: db.prepare<[number], { seq: number; dropped: number; sent_at: number | null }>(
      'SELECT seq, dropped, sent_at FROM batches WHERE sent_at IS NULL OR sent_at < ? ORDER BY seq LIMIT 1',
    ),
    batchSent: db.prepare<[number, number]>('UPDATE batches SET sent_at = ? WHERE seq = ?'),
    rangeRowsDelete: db.prepare<[number, number]>('DELETE FROM outbox WHERE batch BETWEEN ? AND ?'),
    rangeDelete: db.prepare<[number, number]>('DELETE FROM batches WHERE seq BETWEEN ? AND ?'),
    batchRows: db.prepare<[number], { body: string }>('SELECT body FROM outbox WHERE batch = ? ORDER BY id'),
    unassigned: db.prepare<[number], { id: number; bytes: number }>('SELECT id, bytes FROM outbox WHERE batch IS NULL ORDER BY id LIMIT ?'),
    assign: db.prepare<[number, number]>('UPDATE outbox SET batch = ? WHERE id = ?'),
    batchInsert: db.prepare<[number, number]>('INSERT INTO batches (seq, dropped) VALUES (?, ?)'),
    batchDelete: db.prepare<[number]>('DELETE FROM batches WHERE seq = ?'),
    batchRowsDelete: db.prepare<[number]>('DELETE FROM outbox WHERE batch = ?'),
    predPut: db.prepare<[string, string, string]>('INSERT OR REPLACE INTO predictions (model, id, body) VALUES (?, ?, ?)'),
    predGet: db.prepare<[string, string], { body: string }>('SELECT body FROM predictions WHERE model = ? AND id = ?'),
    predTrim: db.prepare<[number]>('DELETE FROM predictions WHERE n <= (SELECT MAX(n) FROM predictions) - ?'),
  };
  const getNum = (key: string): number => {
    const row = st.get.get(key);
    return row ? Number(JSON.parse(row.value)) : 0;
  };
  const putNum = (key: string, n: number): void => {
    st.put.run(key, JSON.stringify(n));
  };

  const artifactFile = (sha: string): string => path.join(modelsDir, `${checkSha(sha)}.onnx`);
  const partialFile = (sha: string): string => path.join(modelsDir, `${checkSha(sha)}.part`);
  // Partial files go through FileHandles on libuv's thread pool: a wave of downloads in one process (the
  // simulator) writes, fsyncs and reads its files off the event loop. A FileHandle's close waits for its
  // pending writes, so a file descriptor number is never reused under a write still in flight.
  const handles = new Map<string, Promise<fs.promises.FileHandle>>();
  let closed = false;
  const partialHandle = (sha: string): Promise<fs.promises.FileHandle> => {
    // a download still writing after close() fails instead of opening a handle nobody will close
    if (closed) return Promise.reject(new EdgefleetError('UNAVAILABLE', 'the agent store is closed'));
    let fh = handles.get(sha);
    if (fh === undefined) {
      fh = fs.promises.open(partialFile(sha), fs.existsSync(partialFile(sha)) ? 'r+' : 'w+');
      handles.set(sha, fh);
      fh.catch(() => handles.delete(sha));
    }
    return fh;
  };
  const closeHandle = async (sha: string): Promise<void> => {
    const fh = handles.get(sha);
    if (fh !== undefined) {
      handles.delete(sha);
      await (await fh).close();
    }
  };

  const appendTx = db.transaction((windows: TelemetryWindow[], maxRows: number): number => {
    for (const w of windows) {
      const body = JSON.stringify(w);
      st.outboxInsert.run(Buffer.byteLength(body), body);
    }
    const n = st.outboxCount.get()!.n;
    if (n <= maxRows) return 0;
    // design §5: bounded outbox, oldest dropped first; the count goes out with the next batch
    const excess = n - maxRows;
    for (const row of st.outboxOldest.all(excess)) st.outboxDelete.run(row.id);
    putNum('outbox.dropped', getNum('outbox.dropped') + excess);
    return excess;
  });

  const nextTx = db.transaction((maxWindows: number, maxBytes: number, resendSentBefore: number): OutboxBatch | null => {
    for (let open = st.batchOpen.get(resendSentBefore); open; open = st.batchOpen.get(resendSentBefore)) {
      const rows = st.batchRows.all(open.seq);
      const caps = captures.ofBatch(open.seq);
      if (rows.length > 0 || open.dropped > 0 || caps.captures || caps.capturesDropped) {
        const resent = open.sent_at !== null ? { resent: true } : {};
        return { seq: open.seq, dropped: open.dropped, windows: rows.map((r) => JSON.parse(r.body) as TelemetryWindow), ...caps, ...resent };
      }
      st.batchDelete.run(open.seq); // its windows were dropped while it waited
    }
    const rows = st.unassigned.all(maxWindows);
    const dropped = getNum('outbox.dropped');
    if (rows.length === 0 && dropped === 0 && !captures.waiting()) return null;
    // The seq is fixed with the batch's rows before the first send, so a resend after a crash carries
    // the same seq and the same windows, and the hub's (deviceId, seq) de-duplication counts them once.
    const seq = getNum('outbox.seq') + 1;
    putNum('outbox.seq', seq);
    putNum('outbox.dropped', 0);
    st.batchInsert.run(seq, dropped);
    let bytes = 0;
    for (const [i, row] of rows.entries()) {
      if (i > 0 && bytes + row.bytes > maxBytes) break;
      bytes += row.bytes;
      st.assign.run(seq, row.id);
    }
    captures.fill(seq, maxBytes - bytes);
    return { seq, dropped, windows: st.batchRows.all(seq).map((r) => JSON.parse(r.body) as TelemetryWindow), ...captures.ofBatch(seq) };
  });

  const ackTx = db.transaction((seq: number) => {
    st.batchRowsDelete.run(seq);
    captures.deleteBatch(seq);
    st.batchDelete.run(seq);
  });

  const confirmTx = db.transaction((ranges: ReadonlyArray<readonly [number, number]>): number => {
    let n = 0;
    for (const [from, to] of ranges) {
      st.rangeRowsDelete.run(from, to);
      captures.deleteRange(from, to);
      n += st.rangeDelete.run(from, to).changes;
    }
    return n;
  });

  const predTx = db.transaction((entries: [string, PredictionRecord][]) => {
    for (const [id, rec] of entries) st.predPut.run(rec.model, id, JSON.stringify(rec));
    st.predTrim.run(maxPredictions);
  });

  return {
    async get<T>(key: string) {
      const row = st.get.get(key);
      return row ? (JSON.parse(row.value) as T) : undefined;
    },
    async put(key, value) {
      writing(`saving ${key}`, () => st.put.run(key, JSON.stringify(value)));
    },
    async delete(key) {
      writing(`deleting ${key}`, () => st.del.run(key));
    },

    async readArtifact(sha256) {
      try {
        const b = await fs.promises.readFile(artifactFile(sha256));
        return new Uint8Array(b.buffer, b.byteOffset, b.byteLength); // a view, not a second 4 MB copy
      } catch {
        return null;
      }
    },
    async hasArtifact(sha256) {
      return fs.existsSync(artifactFile(sha256));
    },
    async deleteArtifact(sha256) {
      fs.rmSync(artifactFile(sha256), { force: true });
    },
    async listArtifacts() {
      return fs
        .readdirSync(modelsDir)
        .filter((f) => f.endsWith('.onnx'))
        .map((f) => f.slice(0, -5))
        .filter((s) => SHA.test(s));
    },

    async openPartial(sha256, size, chunkCount) {
      const row = st.partialGet.get(sha256);
      const bytes = Math.ceil(chunkCount / 8);
      if (row && row.size === size && row.chunks === chunkCount && fs.existsSync(partialFile(sha256))) {
        return new Uint8Array(row.bitmap);
      }
      await closeHandle(sha256);
      fs.rmSync(partialFile(sha256), { force: true });
      const bitmap = new Uint8Array(bytes);
      await writingAsync('starting a download', async () => {
        await (await partialHandle(sha256)).truncate(size);
        st.partialPut.run(sha256, size, chunkCount, Buffer.from(bitmap));
      });
      return bitmap;
    },
    async peekPartial(sha256, size, chunkCount) {
      const row = st.partialGet.get(sha256);
      return row && row.size === size && row.chunks === chunkCount && fs.existsSync(partialFile(sha256)) ? new Uint8Array(row.bitmap) : null;
    },
    async writeChunk(sha256, offset, bytes) {
      await writingAsync(`writing ${sha256.slice(0, 12)}… at ${offset}`, async () => {
        await (await partialHandle(sha256)).write(bytes, 0, bytes.length, offset);
      });
    },
    async syncPartial(sha256, bitmap) {
      // design §5 resumable: the bytes first (fdatasync on libuv's pool, off the event loop), then the bits
      // that name them, so a persisted bit means durable bytes after a kill or a power loss alike. The
      // downloader names only chunks whose writes completed before this call.
      await writingAsync('saving download progress', async () => {
        await (await partialHandle(sha256)).datasync();
        st.partialBitmap.run(Buffer.from(bitmap), sha256);
      });
    },
    async readPartial(sha256) {
      await closeHandle(sha256);
      const b = await fs.promises.readFile(partialFile(sha256));
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    },
    async commitPartial(sha256) {
      await writingAsync('committing a download', async () => {
        await (await partialHandle(sha256)).sync();
        await closeHandle(sha256);
        await fs.promises.rename(partialFile(sha256), artifactFile(sha256));
        await fsyncDir(modelsDir);
        st.partialDel.run(sha256);
      });
    },
    async discardPartial(sha256) {
      await closeHandle(sha256);
      fs.rmSync(partialFile(sha256), { force: true });
      writing('discarding a download', () => st.partialDel.run(sha256));
    },
    async listPartials() {
      // a .part file whose row was never written (killed between the two) counts too
      const shas = new Set(st.partialList.all().map((r) => r.sha256));
      for (const f of fs.readdirSync(modelsDir)) if (f.endsWith('.part') && SHA.test(f.slice(0, -5))) shas.add(f.slice(0, -5));
      return [...shas];
    },
    async freeBytes() {
      try {
        const s = await fs.promises.statfs(modelsDir);
        return Number(s.bavail) * Number(s.bsize);
      } catch {
        return null;
      }
    },

    async outboxAppend(windows, maxRows) {
      return writing('queueing telemetry', () => appendTx(windows, maxRows));
    },
    async outboxNext(maxWindows, maxBytes, resendSentBefore) {
      return writing('batching telemetry', () => nextTx(maxWindows, maxBytes, resendSentBefore ?? Number.MIN_SAFE_INTEGER));
    },
    async outboxAck(seq) {
      writing('acknowledging telemetry', () => ackTx(seq));
    },
    async outboxSent(seq, at) {
      writing('marking telemetry sent', () => st.batchSent.run(at, seq));
    },
    async outboxConfirm(ranges) {
      return writing('confirming telemetry', () => confirmTx(ranges));
    },
    async outboxSize() {
      return st.outboxCount.get()!.n;
    },

    captureAppend: async (rows, maxBytes, drops) => writing('queueing captured rows', () => captures.append(rows, maxBytes, drops)),
    captureSize: async () => captures.size(),

    async putPredictions(entries) {
      writing('saving predictions', () => predTx(entries));
    },
    async getPrediction(model, id) {
      const row = st.predGet.get(model, id);
      return row ? (JSON.parse(row.body) as PredictionRecord) : undefined;
    },

    async close() {
      closed = true;
      await Promise.all([...handles.keys()].map((sha) => closeHandle(sha).catch(() => undefined)));
      db.close();
      unlock();
    },
  };
}
