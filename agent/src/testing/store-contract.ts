// The AgentStore contract (STYLE: one suite, every implementation): the in-memory reference store, the Node
// agent's SQLite + files store and the browser's IndexedDB store answer the same way. Each package calls
// `storeContract(name, make)` from its own tests; `reopen` (when given) opens the same storage again, so the
// suite also proves what survives a restart.

import { afterEach, describe, expect, it } from 'vitest';
import { CAPTURE_LIMITS, createWindow, encodeChunkFrame, sha256Hex } from '@edgefleet/protocol';
import { createDownloader, type Downloader } from '../core/downloader.js';
import type { AgentStore, Transport } from '../core/ports.js';
import { systemClock } from '../core/ports.js';

/** A store under test, and how to open its storage again after `close()` (omitted: nothing persists). */
export interface StoreUnderTest {
  store: AgentStore;
  reopen?: () => AgentStore | Promise<AgentStore>;
}

const SHA = 'ab'.repeat(32);
const win = (i: number) => ({ ...createWindow('m', '1.0.0', 'active', i * 1000, (i + 1) * 1000), inferences: i + 1 });
const cap = (i: number) => ({ kind: 'row' as const, id: `p${i}`, model: 'm', version: '1.0.0', at: i, trigger: 'sample' as const, features: { f0: i }, prediction: 'a', confidence: 0.5 });
/** A row's bytes as the stores count them (UTF-8 of its JSON). */
const capBytes = (i: number) => new TextEncoder().encode(JSON.stringify(cap(i))).length;
const NO_DROPS = { quota: 0, oversized: 0 };

/** The capture part of the port, which every store under this contract implements (design §4 capture). */
function capturing(store: AgentStore): Required<Pick<AgentStore, 'captureAppend' | 'captureSize'>> {
  expect(store.captureAppend, 'captureAppend').toBeTypeOf('function');
  expect(store.captureSize, 'captureSize').toBeTypeOf('function');
  return { captureAppend: store.captureAppend!.bind(store), captureSize: store.captureSize!.bind(store) };
}

/** Registers the suite `AgentStore contract: <name>`; `make` gives a fresh, empty store for each test. */
export function storeContract(name: string, make: () => StoreUnderTest | Promise<StoreUnderTest>): void {
  describe(`AgentStore contract: ${name}`, () => {
    const open: AgentStore[] = [];
    afterEach(async () => {
      for (const s of open.splice(0)) await s.close();
    });

    async function fresh(): Promise<StoreUnderTest> {
      const r = await make();
      open.push(r.store);
      return r;
    }

    /** The same data through a new handle (the store closed and opened again), or `store` itself when it cannot reopen. */
    async function reopened(store: AgentStore, reopen: StoreUnderTest['reopen']): Promise<AgentStore> {
      if (!reopen) return store;
      await store.close();
      open.splice(open.indexOf(store), 1);
      const again = await reopen();
      open.push(again);
      return again;
    }

    it('keeps JSON documents by key', async () => {
      const { store } = await fresh();
      expect(await store.get('slots')).toBeUndefined();
      await store.put('slots', { m: { state: 'active' } });
      expect(await store.get('slots')).toEqual({ m: { state: 'active' } });
      await store.delete('slots');
      expect(await store.get('slots')).toBeUndefined();
    });

    it('resumes a partial download from the synced bitmap and commits it as the artifact', async () => {
      const r = await fresh();
      let store = r.store;
      const bytes = Uint8Array.from({ length: 2500 }, (_, i) => i % 251);
      expect(Array.from(await store.openPartial(SHA, 2500, 3))).toEqual([0]);
      await store.writeChunk(SHA, 0, bytes.subarray(0, 1024));
      await store.writeChunk(SHA, 2048, bytes.subarray(2048));
      await store.syncPartial(SHA, Uint8Array.of(0b101));
      if (r.reopen) {
        await store.close();
        open.splice(open.indexOf(store), 1);
        store = await r.reopen();
        open.push(store);
      }
      expect(Array.from(await store.openPartial(SHA, 2500, 3))).toEqual([0b101]);
      await store.writeChunk(SHA, 1024, bytes.subarray(1024, 2048));
      expect(await store.readPartial(SHA)).toEqual(bytes);
      expect(await store.hasArtifact(SHA)).toBe(false);
      expect(await store.listPartials()).toEqual([SHA]);
      await store.commitPartial(SHA);
      expect(await store.listPartials()).toEqual([]);
      expect(await store.hasArtifact(SHA)).toBe(true);
      expect(await store.readArtifact(SHA)).toEqual(bytes);
      expect(await store.listArtifacts()).toEqual([SHA]);
      // a new download of the same artifact starts from nothing
      expect(Array.from(await store.openPartial(SHA, 2500, 3))).toEqual([0]);
      await store.discardPartial(SHA);
      await store.deleteArtifact(SHA);
      expect(await store.readArtifact(SHA)).toBeNull();
      expect(await store.listArtifacts()).toEqual([]);
    });

    it('persists a received-chunk bit only once the chunk\'s write has completed (a kill at any point resumes correct bytes)', async () => {
      const { store } = await fresh();
      const chunkSize = 1024;
      const bytes = Uint8Array.from({ length: 96 * chunkSize }, (_, i) => (i * 7 + (i >> 10)) % 251);
      const sha256 = sha256Hex(bytes);
      // A slow disk (the fault: writes that finish well after the frames that carry them) under the store.
      const done = new Set<number>();
      const violations: number[] = [];
      let syncs = 0;
      const slow: AgentStore = {
        ...store,
        async writeChunk(sha, offset, data) {
          await new Promise((r) => setTimeout(r, 2));
          await store.writeChunk(sha, offset, data);
          done.add(offset / chunkSize);
        },
        async syncPartial(sha, bitmap) {
          syncs++;
          for (let i = 0; i < 96; i++) if ((bitmap[i >> 3]! & (1 << (i & 7))) !== 0 && !done.has(i)) violations.push(i);
          await store.syncPartial(sha, bitmap);
        },
      };
      let dl: Downloader | null = null;
      // a hub that answers each artifact/get at once with every chunk asked for
      const transport: Transport = {
        connected: true,
        connect() {},
        async close() {},
        async publish(_topic, payload) {
          const req = JSON.parse(String(payload)) as { chunks: number[] };
          for (const i of req.chunks) setImmediate(() => dl!.handleFrame(encodeChunkFrame(sha256, i, bytes.subarray(i * chunkSize, (i + 1) * chunkSize))));
        },
        async subscribe(topics) {
          return topics.map((topic) => ({ topic, ok: false }));
        },
        onMessage() {},
        onConnect() {},
        onDisconnect() {},
      };
      dl = createDownloader({ deviceId: 'dev-1', transport, store: slow, clock: systemClock, window: 16, multicast: false });
      // the verified bytes come back from the download itself, equal to what was committed
      expect(await dl.fetchArtifact({ sha256, size: bytes.length, chunkSize }, { cancelled: false })).toEqual({ fresh: true, bytes });
      expect(syncs).toBeGreaterThan(4);
      expect(violations).toEqual([]);
      expect(await store.readArtifact(sha256)).toEqual(bytes);
    });

    it('refuses chunk writes after close (UNAVAILABLE): a download still running when the agent stops leaves nothing open', async () => {
      const { store } = await fresh();
      await store.openPartial(SHA, 2048, 2);
      await store.writeChunk(SHA, 0, new Uint8Array(1024));
      await store.close();
      open.splice(open.indexOf(store), 1);
      await expect(store.writeChunk(SHA, 1024, new Uint8Array(1024))).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    });

    it('drops the oldest windows beyond the bound and reports the drop in the next batch', async () => {
      const { store } = await fresh();
      expect(await store.outboxAppend([win(0), win(1), win(2), win(3), win(4)], 3)).toBe(2);
      expect(await store.outboxSize()).toBe(3);
      const b1 = (await store.outboxNext(256, 1e6))!;
      expect(b1.dropped).toBe(2);
      expect(b1.windows.map((w) => w.inferences)).toEqual([3, 4, 5]);
      // unacknowledged: the same batch again, same seq (the hub de-duplicates on it)
      expect(await store.outboxNext(256, 1e6)).toEqual(b1);
      await store.outboxAck(b1.seq);
      expect(await store.outboxNext(256, 1e6)).toBeNull();
      await store.outboxAppend([win(5), win(6), win(7)], 10);
      const b2 = (await store.outboxNext(2, 1e6))!;
      expect(b2.seq).toBeGreaterThan(b1.seq);
      expect(b2.dropped).toBe(0);
      expect(b2.windows.map((w) => w.inferences)).toEqual([6, 7]);
      await store.outboxAck(b2.seq);
      const b3 = (await store.outboxNext(256, 1))!; // over the byte cap: still one window per batch
      expect(b3.windows.map((w) => w.inferences)).toEqual([8]);
    });

    it('keeps a sent batch until a confirmation names its seq, sends it again only when asked, and across a reopen', async () => {
      const { store, reopen } = await fresh();
      await store.outboxAppend([win(0), win(1), win(2)], 10);
      const b1 = (await store.outboxNext(1, 1e6))!;
      await store.outboxSent(b1.seq, 1_000);
      // sent and waiting for the hub: the next batch is a new one, not this one again
      const b2 = (await store.outboxNext(1, 1e6))!;
      expect(b2.seq).toBeGreaterThan(b1.seq);
      await store.outboxSent(b2.seq, 2_000);
      const b3 = (await store.outboxNext(1, 1e6))!;
      await store.outboxSent(b3.seq, 3_000);
      expect(await store.outboxNext(1, 1e6)).toBeNull();
      expect(await store.outboxSize()).toBe(3); // unconfirmed windows stay in the bound
      // a re-send for those sent before a cutoff (a timeout or a reconnect): the oldest first, same seq and windows
      expect(await store.outboxNext(1, 1e6, 2_500)).toEqual({ ...b1, resent: true });
      await store.outboxSent(b1.seq, 4_000);
      expect(await store.outboxNext(1, 1e6, 2_500)).toEqual({ ...b2, resent: true });
      await store.outboxSent(b2.seq, 4_000);
      expect(await store.outboxNext(1, 1e6, 2_500)).toBeNull();
      // the hub committed b1 and b3 but not b2 (lost by the broker): only those go
      expect(await store.outboxConfirm([[b1.seq, b1.seq], [b3.seq, b3.seq + 5]])).toBe(2);
      expect(await store.outboxSize()).toBe(1);
      const again = await reopened(store, reopen);
      expect(await again.outboxNext(1, 1e6)).toBeNull();
      expect(await again.outboxNext(1, 1e6, 5_000)).toEqual({ ...b2, resent: true });
      expect(await again.outboxConfirm([[b2.seq, b2.seq]])).toBe(1);
      expect(await again.outboxSize()).toBe(0);
      expect(await again.outboxConfirm([[b2.seq, b2.seq]])).toBe(0); // a repeated confirmation changes nothing
    });

    it('drops the oldest windows beyond the bound also when they wait for a confirmation', async () => {
      const { store } = await fresh();
      await store.outboxAppend([win(0), win(1)], 3);
      const b1 = (await store.outboxNext(256, 1e6))!;
      await store.outboxSent(b1.seq, 1_000);
      expect(await store.outboxAppend([win(2), win(3)], 3)).toBe(1);
      expect(await store.outboxSize()).toBe(3);
      const b2 = (await store.outboxNext(256, 1e6))!;
      expect(b2.dropped).toBe(1);
      expect(b2.windows.map((w) => w.inferences)).toEqual([3, 4]);
      expect((await store.outboxNext(256, 1e6, 2_000))!.windows.map((w) => w.inferences)).toEqual([2]);
    });

    it('sends captured rows with a batch, within the disk budget (oldest dropped, counted), the same rows on a resend, across a reopen', async () => {
      const { store, reopen } = await fresh();
      const { captureAppend, captureSize } = capturing(store);
      const size = capBytes(0);
      expect(await captureAppend([cap(0), cap(1), cap(2)], 2 * size + 1, { quota: 2, oversized: 1 })).toBe(1);
      expect(await captureSize()).toEqual({ rows: 2, bytes: 2 * size });
      const b1 = (await store.outboxNext(256, 1e6))!;
      expect(b1.windows).toEqual([]);
      expect(b1.captures).toEqual([cap(1), cap(2)]);
      expect(b1.capturesDropped).toEqual({ quota: 2, disk: 1, oversized: 0 + 1 });
      await store.outboxSent(b1.seq, 1_000);
      const again = await reopened(store, reopen);
      expect(await again.outboxNext(256, 1e6, 2_000)).toEqual({ ...b1, resent: true });
      await again.outboxAck(b1.seq);
      expect(await capturing(again).captureSize()).toEqual({ rows: 0, bytes: 0 });
      expect(await again.outboxNext(256, 1e6)).toBeNull();
    });

    it('puts captured rows in the bytes the windows leave, the rest in later batches, each row in exactly one batch', async () => {
      const { store } = await fresh();
      const { captureAppend, captureSize } = capturing(store);
      await store.outboxAppend([win(0)], 10);
      const winBytes = new TextEncoder().encode(JSON.stringify(win(0))).length;
      expect(await captureAppend([cap(0), cap(1), cap(2)], 1e6, NO_DROPS)).toBe(0);
      // room for the window and two rows: the third waits
      const b1 = (await store.outboxNext(256, winBytes + capBytes(0) + capBytes(1)))!;
      expect(b1.windows.map((w) => w.inferences)).toEqual([1]);
      expect(b1.captures).toEqual([cap(0), cap(1)]);
      expect(b1.capturesDropped).toBeUndefined();
      await store.outboxSent(b1.seq, 1_000);
      // rows added after a batch was made never join it: they go with the next new one
      await captureAppend([cap(3)], 1e6, NO_DROPS);
      const b2 = (await store.outboxNext(256, 1e6))!;
      expect(b2.seq).toBeGreaterThan(b1.seq);
      expect(b2.windows).toEqual([]);
      expect(b2.captures).toEqual([cap(2), cap(3)]);
      await store.outboxSent(b2.seq, 2_000);
      expect(await store.outboxNext(256, 1e6)).toBeNull();
      expect(await store.outboxNext(256, 1e6, 1_500)).toEqual({ ...b1, resent: true });
      expect(await captureSize()).toEqual({ rows: 4, bytes: [0, 1, 2, 3].reduce((n, i) => n + capBytes(i), 0) });
      // the hub's confirmation takes a batch's rows with it
      expect(await store.outboxConfirm([[b1.seq, b2.seq]])).toBe(2);
      expect(await captureSize()).toEqual({ rows: 0, bytes: 0 });
      expect(await store.outboxNext(256, 1e6, 5_000)).toBeNull();
    });

    it(`sends at most ${CAPTURE_LIMITS.rowsPerBatch} captured rows per batch`, async () => {
      const { store } = await fresh();
      const { captureAppend } = capturing(store);
      const rows = Array.from({ length: CAPTURE_LIMITS.rowsPerBatch + 3 }, (_, i) => cap(i));
      await captureAppend(rows, 1e9, NO_DROPS);
      const b1 = (await store.outboxNext(256, 1e9))!;
      expect(b1.captures).toHaveLength(CAPTURE_LIMITS.rowsPerBatch);
      await store.outboxAck(b1.seq);
      expect((await store.outboxNext(256, 1e9))!.captures).toEqual(rows.slice(CAPTURE_LIMITS.rowsPerBatch));
    });

    it('reports capture drops with no row to carry, once, and a zero budget (the device switch off) drops every row held', async () => {
      const { store, reopen } = await fresh();
      const { captureAppend } = capturing(store);
      // drops on their own (over a window's quota) make a batch that says so
      expect(await captureAppend([], 1e6, { quota: 3, oversized: 0 })).toBe(0);
      const b1 = (await store.outboxNext(256, 1e6))!;
      expect(b1).toMatchObject({ windows: [], dropped: 0, capturesDropped: { quota: 3, disk: 0, oversized: 0 } });
      expect(b1.captures).toBeUndefined();
      await store.outboxAck(b1.seq);
      expect(await store.outboxNext(256, 1e6)).toBeNull();
      // rows in a batch waiting for the hub and rows in none: switched off, both go, counted as disk drops
      await captureAppend([cap(0)], 1e6, NO_DROPS);
      const b2 = (await store.outboxNext(256, 1e6))!;
      await store.outboxSent(b2.seq, 1_000);
      await captureAppend([cap(1), cap(2)], 1e6, NO_DROPS);
      expect(await captureAppend([], 0, NO_DROPS)).toBe(3);
      const again = await reopened(store, reopen);
      expect(await capturing(again).captureSize()).toEqual({ rows: 0, bytes: 0 });
      const b3 = (await again.outboxNext(256, 1e6))!;
      expect(b3.seq).toBeGreaterThan(b2.seq);
      expect(b3.captures).toBeUndefined();
      expect(b3.capturesDropped).toEqual({ quota: 0, disk: 3, oversized: 0 });
      await again.outboxAck(b3.seq);
      // b2 lost its row: nothing of it goes again
      expect(await again.outboxNext(256, 1e6, 5_000)).toBeNull();
    });

    it('remembers predictions for late labels by model and id', async () => {
      const { store } = await fresh();
      await store.putPredictions([['p-1', { model: 'm', version: '1.0.0', role: 'active', start: 0, end: 60_000, predicted: 2 }]]);
      expect(await store.getPrediction('m', 'p-1')).toEqual({ model: 'm', version: '1.0.0', role: 'active', start: 0, end: 60_000, predicted: 2 });
      expect(await store.getPrediction('other', 'p-1')).toBeUndefined();
    });
  });
}
