// The browser agent's IndexedDB store: the agent's AgentStore contract suite (the same one the memory and
// SQLite stores pass) on fake-indexeddb, each test in a fresh IDBFactory and `reopen` opening the same
// database again; then what the suite does not cover: a full quota (DISK_FULL, nothing half-written), a
// reload resuming a download with exactly the synced bits, chunked model records, freeBytes from estimate().

import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it } from 'vitest';
import { createWindow } from '@edgefleet/protocol';
import type { AgentStore } from '@edgefleet/agent/core';
import { storeContract } from '@edgefleet/agent/testing';
import { openIndexedDbStore, type IndexedDbStoreOptions } from '../src/index.js';

storeContract('indexeddb', async () => {
  const indexedDB = new IDBFactory();
  const open = () => openIndexedDbStore({ name: 'edgefleet-dev-1', indexedDB, estimate: async () => ({ quota: 2e9, usage: 1e9 }) });
  return { store: await open(), reopen: open };
});

const SHA = 'cd'.repeat(32);
const CHUNK = 1024;
const bytesOf = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 13 + (i >> 10)) % 251);
const bit = (...chunks: number[]) => Uint8Array.of(chunks.reduce((b, i) => b | (1 << i), 0));
const win = (i: number) => ({ ...createWindow('m', '1.0.0', 'active', i * 1000, (i + 1) * 1000), inferences: i + 1 });

/**
 * A full origin quota, the way IndexedDB reports one: the request of a write fails with a
 * QuotaExceededError and its transaction aborts with that error (everything it wrote undone).
 */
const quota = { full: (_store: string, _value: unknown) => false, refused: 0 };
const realPut = IDBObjectStore.prototype.put;
IDBObjectStore.prototype.put = function (this: IDBObjectStore, value: unknown, key?: IDBValidKey) {
  const req = realPut.call(this, value, key);
  if (quota.full(this.name, value)) {
    quota.refused++;
    // fake-indexeddb queues the request's operation; swap it for one that fails like a full disk
    const queued = (this.transaction as unknown as { _requests: { request: unknown; operation: () => unknown }[] })._requests;
    const entry = queued.find((r) => r.request === req)!;
    entry.operation = () => {
      throw new DOMException('the origin is out of quota', 'QuotaExceededError');
    };
  }
  return req;
};

const open: AgentStore[] = [];
afterEach(async () => {
  quota.full = () => false;
  quota.refused = 0;
  for (const s of open.splice(0)) await s.close();
});

function device(extra: Partial<IndexedDbStoreOptions> = {}) {
  const indexedDB = new IDBFactory();
  const reopen = async (): Promise<AgentStore> => {
    const s = await openIndexedDbStore({ name: 'edgefleet-dev-2', indexedDB, ...extra });
    open.push(s);
    return s;
  };
  const close = async (s: AgentStore): Promise<void> => {
    open.splice(open.indexOf(s), 1);
    await s.close();
  };
  return { indexedDB, reopen, close };
}

/** Every record of one object store, straight from the database (what a reload would find). */
async function rawRecords(indexedDB: IDBFactory, storeName: string): Promise<unknown[]> {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const r = indexedDB.open('edgefleet-dev-2');
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  try {
    return await new Promise((resolve, reject) => {
      const r = db.transaction(storeName, 'readonly').objectStore(storeName).getAll();
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
  } finally {
    db.close();
  }
}

describe('IndexedDB store', () => {
  it('resumes a download after a reload with exactly the synced bits, and the bytes behind them', async () => {
    const d = device();
    const bytes = bytesOf(4 * CHUNK - 100);
    let store = await d.reopen();
    expect(Array.from(await store.openPartial(SHA, bytes.length, 4))).toEqual([0]);
    await store.writeChunk(SHA, 0, bytes.subarray(0, CHUNK));
    await store.writeChunk(SHA, CHUNK, bytes.subarray(CHUNK, 2 * CHUNK));
    await store.syncPartial(SHA, bit(0, 1));
    await store.writeChunk(SHA, 2 * CHUNK, bytes.subarray(2 * CHUNK, 3 * CHUNK)); // written, never synced
    await d.close(store); // the tab closes
    store = await d.reopen();
    expect(await store.listPartials()).toEqual([SHA]);
    expect(Array.from((await store.peekPartial(SHA, bytes.length, 4))!)).toEqual([0b0011]);
    expect(Array.from(await store.openPartial(SHA, bytes.length, 4))).toEqual([0b0011]);
    const resumed = await store.readPartial(SHA);
    expect(resumed.subarray(0, 2 * CHUNK)).toEqual(bytes.subarray(0, 2 * CHUNK));
    expect(resumed.subarray(2 * CHUNK).every((b) => b === 0)).toBe(true); // the unsynced chunk is fetched again
    await store.writeChunk(SHA, 2 * CHUNK, bytes.subarray(2 * CHUNK, 3 * CHUNK));
    await store.writeChunk(SHA, 3 * CHUNK, bytes.subarray(3 * CHUNK));
    await store.syncPartial(SHA, bit(0, 1, 2, 3));
    await store.commitPartial(SHA);
    await d.close(store);
    store = await d.reopen();
    expect(await store.readArtifact(SHA)).toEqual(bytes);
    expect(await store.listPartials()).toEqual([]);
    // a layout change starts over; a discard leaves no chunk behind
    expect(await store.peekPartial(SHA, bytes.length, 8)).toBeNull();
  });

  it('keeps a model as one record per chunk, each holding only its own bytes', async () => {
    const d = device();
    const store = await d.reopen();
    const bytes = bytesOf(25 * CHUNK);
    await store.openPartial(SHA, bytes.length, 25);
    for (let i = 0; i < 25; i++) await store.writeChunk(SHA, i * CHUNK, bytes.subarray(i * CHUNK, (i + 1) * CHUNK));
    await store.syncPartial(SHA, new Uint8Array(4).fill(0xff));
    await store.commitPartial(SHA);
    const chunks = (await rawRecords(d.indexedDB, 'chunks')) as Uint8Array[];
    expect(chunks).toHaveLength(25);
    // a subarray of the whole model stored as it is would clone the 25 KB buffer under it 25 times
    expect(chunks.map((c) => c.buffer.byteLength)).toEqual(Array(25).fill(CHUNK));
    expect(await store.readArtifact(SHA)).toEqual(bytes);
    await store.deleteArtifact(SHA);
    expect(await rawRecords(d.indexedDB, 'chunks')).toEqual([]);
  });

  it('refuses a write beyond the quota with DISK_FULL and leaves nothing half-written', async () => {
    const d = device();
    let store = await d.reopen();
    await store.put('slots', { m: 'v1' });
    await store.outboxAppend([win(0), win(1)], 2);
    const bytes = bytesOf(3 * CHUNK);
    await store.openPartial(SHA, bytes.length, 3);
    await store.writeChunk(SHA, 0, bytes.subarray(0, CHUNK));
    await store.syncPartial(SHA, bit(0));

    quota.full = (name) => name === 'kv';
    await expect(store.put('slots', { m: 'v2' })).rejects.toMatchObject({ code: 'DISK_FULL' });
    expect(await store.get('slots')).toEqual({ m: 'v1' });

    // the outbox's bound trims and counts in the same transaction as the append: all of it or none
    quota.full = (name) => name === 'meta';
    await expect(store.outboxAppend([win(2), win(3)], 2)).rejects.toMatchObject({ code: 'DISK_FULL' });
    expect(await store.outboxSize()).toBe(2);
    quota.full = () => false;
    expect((await store.outboxNext(10, 1e6))!).toMatchObject({ dropped: 0, windows: [{ inferences: 1 }, { inferences: 2 }] });

    // a sync whose second chunk does not fit: neither chunk nor bit lands
    await store.writeChunk(SHA, CHUNK, bytes.subarray(CHUNK, 2 * CHUNK));
    await store.writeChunk(SHA, 2 * CHUNK, bytes.subarray(2 * CHUNK));
    let puts = 0;
    quota.refused = 0;
    quota.full = (name) => name === 'chunks' && ++puts === 2;
    await expect(store.syncPartial(SHA, bit(0, 1, 2))).rejects.toMatchObject({ code: 'DISK_FULL' });
    expect(quota.refused).toBe(1);
    quota.full = (name) => name === 'chunks' || name === 'artifacts';
    await expect(store.commitPartial(SHA)).rejects.toMatchObject({ code: 'DISK_FULL' });
    expect(await store.hasArtifact(SHA)).toBe(false);
    expect(await store.listPartials()).toEqual([SHA]);
    quota.full = () => false;
    await d.close(store); // a reload sees what was committed, no more
    store = await d.reopen();
    expect(Array.from(await store.openPartial(SHA, bytes.length, 3))).toEqual([0b001]);
    const partial = await store.readPartial(SHA);
    expect(partial.subarray(0, CHUNK)).toEqual(bytes.subarray(0, CHUNK));
    expect(partial.subarray(CHUNK).every((b) => b === 0)).toBe(true);
    expect(await rawRecords(d.indexedDB, 'chunks')).toHaveLength(1);
  });

  it('keeps chunks whose write-out failed for the next sync (space freed: nothing fetched again)', async () => {
    const d = device();
    const store = await d.reopen();
    const bytes = bytesOf(2 * CHUNK);
    await store.openPartial(SHA, bytes.length, 2);
    await store.writeChunk(SHA, 0, bytes.subarray(0, CHUNK));
    await store.writeChunk(SHA, CHUNK, bytes.subarray(CHUNK));
    quota.full = (name) => name === 'partials';
    await expect(store.syncPartial(SHA, bit(0, 1))).rejects.toMatchObject({ code: 'DISK_FULL' });
    expect(await rawRecords(d.indexedDB, 'chunks')).toEqual([]);
    quota.full = () => false;
    await store.syncPartial(SHA, bit(0, 1));
    expect(Array.from((await store.peekPartial(SHA, bytes.length, 2))!)).toEqual([0b11]);
    await store.commitPartial(SHA);
    expect(await store.readArtifact(SHA)).toEqual(bytes);
  });

  it('writes held chunks out without their bits once more than maxPendingBytes wait', async () => {
    const d = device({ maxPendingBytes: 2 * CHUNK });
    let store = await d.reopen();
    const bytes = bytesOf(4 * CHUNK);
    await store.openPartial(SHA, bytes.length, 4);
    for (let i = 0; i < 3; i++) await store.writeChunk(SHA, i * CHUNK, bytes.subarray(i * CHUNK, (i + 1) * CHUNK));
    expect(await rawRecords(d.indexedDB, 'chunks')).toHaveLength(3);
    await d.close(store);
    store = await d.reopen();
    expect(Array.from(await store.openPartial(SHA, bytes.length, 4))).toEqual([0]); // bytes without bits: fetched again
    await expect(store.writeChunk(SHA, 3 * CHUNK, new Uint8Array(CHUNK + 1))).rejects.toThrow(/outside/);
  });

  it('reports free bytes as quota minus usage, null when the browser does not say', async () => {
    const d = device({ estimate: async () => ({ quota: 5_000_000, usage: 1_250_000 }) });
    expect(await (await d.reopen()).freeBytes()).toBe(3_750_000);
    const unknown = device({ estimate: async () => ({ usage: 10 }) });
    expect(await (await unknown.reopen()).freeBytes()).toBeNull();
    const failing = device({ estimate: () => Promise.reject(new Error('SecurityError')) });
    expect(await (await failing.reopen()).freeBytes()).toBeNull();
  });

  it('refuses every write after close (UNAVAILABLE), and a closed tab leaves the database to the next', async () => {
    const d = device();
    const store = await d.reopen();
    await store.put('k', 1);
    await d.close(store);
    await expect(store.put('k', 2)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(store.outboxAppend([win(0)], 10)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(store.openPartial(SHA, 10, 1)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(await (await d.reopen()).get('k')).toBe(1);
  });

  it('says UNAVAILABLE where there is no IndexedDB at all', async () => {
    const saved = globalThis.indexedDB;
    Object.defineProperty(globalThis, 'indexedDB', { value: undefined, configurable: true, writable: true });
    try {
      await expect(openIndexedDbStore({ name: 'x' })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    } finally {
      Object.defineProperty(globalThis, 'indexedDB', { value: saved, configurable: true, writable: true });
    }
  });
});
