// An AgentStore in memory: the reference implementation of the store contract (agent/test/agent-store.test.ts
// runs the same suite against it and the SQLite store), for tests and for hosts without persistent storage.

import { CAPTURE_LIMITS, EdgefleetError, type Capture, type TelemetryWindow } from '@edgefleet/protocol';
import type { AgentStore, CaptureDrops, OutboxBatch, PredictionRecord } from './ports.js';

export interface MemoryStoreOptions {
  /** Reported by freeBytes(); null = unknown. */
  freeBytes?: number | null;
  maxPredictions?: number;
}

export function createMemoryStore(options: MemoryStoreOptions = {}): AgentStore {
  const kv = new Map<string, string>();
  const artifacts = new Map<string, Uint8Array>();
  const partials = new Map<string, { size: number; chunks: number; bytes: Uint8Array; bitmap: Uint8Array }>();
  const outbox: { id: number; batch: number | null; bytes: number; body: string }[] = [];
  const batches = new Map<number, { dropped: number; sentAt: number | null; capDrops?: CaptureDrops }>(); // seq → dropped, when PUBACKed
  const captures: { id: number; batch: number | null; bytes: number; body: string }[] = [];
  let capDrops: CaptureDrops = { quota: 0, disk: 0, oversized: 0 };
  const anyDrops = (d: CaptureDrops | undefined) => d !== undefined && d.quota + d.disk + d.oversized > 0;
  const capturesOf = (s: number) => captures.filter((r) => r.batch === s).map((r) => JSON.parse(r.body) as Capture);
  const withCaptures = (s: number, d: CaptureDrops | undefined): Pick<OutboxBatch, 'captures' | 'capturesDropped'> => {
    const rows = capturesOf(s);
    return { ...(rows.length > 0 ? { captures: rows } : {}), ...(anyDrops(d) ? { capturesDropped: d } : {}) };
  };
  const predictions = new Map<string, PredictionRecord>();
  const maxPredictions = options.maxPredictions ?? 100_000;
  let nextId = 1;
  let seq = 0;
  let droppedPending = 0;
  let closed = false;

  return {
    async get<T>(key: string) {
      const v = kv.get(key);
      return v === undefined ? undefined : (JSON.parse(v) as T);
    },
    async put(key, value) {
      kv.set(key, JSON.stringify(value));
    },
    async delete(key) {
      kv.delete(key);
    },

    async readArtifact(sha256) {
      const b = artifacts.get(sha256);
      return b ? b.slice() : null;
    },
    async hasArtifact(sha256) {
      return artifacts.has(sha256);
    },
    async deleteArtifact(sha256) {
      artifacts.delete(sha256);
    },
    async listArtifacts() {
      return [...artifacts.keys()];
    },
    async openPartial(sha256, size, chunkCount) {
      const p = partials.get(sha256);
      if (p && p.size === size && p.chunks === chunkCount) return p.bitmap.slice();
      const fresh = { size, chunks: chunkCount, bytes: new Uint8Array(size), bitmap: new Uint8Array(Math.ceil(chunkCount / 8)) };
      partials.set(sha256, fresh);
      return fresh.bitmap.slice();
    },
    async peekPartial(sha256, size, chunkCount) {
      const p = partials.get(sha256);
      return p && p.size === size && p.chunks === chunkCount ? p.bitmap.slice() : null;
    },
    async writeChunk(sha256, offset, bytes) {
      if (closed) throw new EdgefleetError('UNAVAILABLE', 'the agent store is closed');
      const p = partials.get(sha256);
      if (!p) throw new Error(`no partial download of ${sha256}`);
      p.bytes.set(bytes, offset);
    },
    async syncPartial(sha256, bitmap) {
      const p = partials.get(sha256);
      if (p) p.bitmap = bitmap.slice();
    },
    async readPartial(sha256) {
      const p = partials.get(sha256);
      if (!p) throw new Error(`no partial download of ${sha256}`);
      return p.bytes.slice();
    },
    async commitPartial(sha256) {
      const p = partials.get(sha256);
      if (!p) throw new Error(`no partial download of ${sha256}`);
      artifacts.set(sha256, p.bytes);
      partials.delete(sha256);
    },
    async discardPartial(sha256) {
      partials.delete(sha256);
    },
    async listPartials() {
      return [...partials.keys()];
    },
    async freeBytes() {
      return options.freeBytes === undefined ? null : options.freeBytes;
    },

    async outboxAppend(windows: TelemetryWindow[], maxRows) {
      for (const w of windows) {
        const body = JSON.stringify(w);
        outbox.push({ id: nextId++, batch: null, bytes: body.length, body });
      }
      const excess = Math.max(0, outbox.length - maxRows);
      if (excess > 0) {
        outbox.splice(0, excess);
        droppedPending += excess;
      }
      return excess;
    },
    async outboxNext(maxWindows, maxBytes, resendSentBefore): Promise<OutboxBatch | null> {
      const cutoff = resendSentBefore ?? Number.MIN_SAFE_INTEGER;
      for (const [s, b] of [...batches.entries()].sort((a, c) => a[0] - c[0])) {
        if (b.sentAt !== null && b.sentAt >= cutoff) continue;
        const rows = outbox.filter((r) => r.batch === s);
        if (rows.length > 0 || b.dropped > 0 || captures.some((r) => r.batch === s) || anyDrops(b.capDrops)) {
          return { seq: s, dropped: b.dropped, windows: rows.map((r) => JSON.parse(r.body) as TelemetryWindow), ...withCaptures(s, b.capDrops), ...(b.sentAt !== null ? { resent: true } : {}) };
        }
        batches.delete(s); // its windows were dropped while it waited
      }
      const free = outbox.filter((r) => r.batch === null).slice(0, maxWindows);
      const freeCaptures = captures.filter((r) => r.batch === null).slice(0, CAPTURE_LIMITS.rowsPerBatch);
      if (free.length === 0 && droppedPending === 0 && freeCaptures.length === 0 && !anyDrops(capDrops)) return null;
      seq++;
      const dropped = droppedPending;
      droppedPending = 0;
      const d = anyDrops(capDrops) ? capDrops : undefined;
      capDrops = { quota: 0, disk: 0, oversized: 0 };
      batches.set(seq, { dropped, sentAt: null, ...(d ? { capDrops: d } : {}) });
      let bytes = 0;
      for (const [i, r] of free.entries()) {
        if (i > 0 && bytes + r.bytes > maxBytes) break;
        bytes += r.bytes;
        r.batch = seq;
      }
      for (const r of freeCaptures) {
        if (bytes + r.bytes > maxBytes) break;
        bytes += r.bytes;
        r.batch = seq;
      }
      return { seq, dropped, windows: outbox.filter((r) => r.batch === seq).map((r) => JSON.parse(r.body) as TelemetryWindow), ...withCaptures(seq, d) };
    },
    async outboxAck(s) {
      for (let i = outbox.length - 1; i >= 0; i--) if (outbox[i]!.batch === s) outbox.splice(i, 1);
      for (let i = captures.length - 1; i >= 0; i--) if (captures[i]!.batch === s) captures.splice(i, 1);
      batches.delete(s);
    },
    async outboxSent(s, at) {
      const b = batches.get(s);
      if (b) b.sentAt = at;
    },
    async outboxConfirm(ranges) {
      const hit = (s: number): boolean => ranges.some(([from, to]) => s >= from && s <= to);
      let n = 0;
      for (const s of [...batches.keys()]) {
        if (!hit(s)) continue;
        batches.delete(s);
        n++;
      }
      for (const list of [outbox, captures]) {
        for (let i = list.length - 1; i >= 0; i--) {
          const b = list[i]!.batch;
          if (b !== null && hit(b)) list.splice(i, 1);
        }
      }
      return n;
    },
    async outboxSize() {
      return outbox.length;
    },
    async captureAppend(rows, maxBytes, drops) {
      for (const r of rows) {
        const body = JSON.stringify(r);
        captures.push({ id: nextId++, batch: null, bytes: new TextEncoder().encode(body).length, body });
      }
      capDrops.quota += drops.quota;
      capDrops.oversized += drops.oversized;
      // design §4 capture: the disk budget holds, oldest rows dropped first
      let total = captures.reduce((n, r) => n + r.bytes, 0);
      let dropped = 0;
      while (captures.length > 0 && total > maxBytes) {
        total -= captures.shift()!.bytes;
        dropped++;
      }
      capDrops.disk += dropped;
      return dropped;
    },
    async captureSize() {
      return { rows: captures.length, bytes: captures.reduce((n, r) => n + r.bytes, 0) };
    },

    async putPredictions(entries) {
      for (const [id, rec] of entries) {
        const key = `${rec.model}\u0000${id}`;
        predictions.delete(key);
        predictions.set(key, { ...rec });
      }
      while (predictions.size > maxPredictions) predictions.delete(predictions.keys().next().value!);
    },
    async getPrediction(model, id) {
      const r = predictions.get(`${model}\u0000${id}`);
      return r ? { ...r } : undefined;
    },

    async close() {
      closed = true;
    },
  };
}
