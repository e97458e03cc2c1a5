import { describe, expect, it } from 'vitest';
import { EdgefleetError } from '@edgefleet/protocol';
import { createDocumentSaver } from './document-saver.js';
import { createMemoryStore } from './memory-store.js';

describe('document saver', () => {
  it('keeps a document the store refused, reports the fault once, and saves the newest value once the store takes it', async () => {
    const memory = createMemoryStore();
    let full = true;
    // the fault: a store whose disk is full (DISK_FULL from put) until `full` is cleared
    const store = { ...memory, put: async (key: string, value: unknown) => (full ? Promise.reject(new EdgefleetError('DISK_FULL', 'no space')) : memory.put(key, value)) };
    const reports: string[] = [];
    const counts: string[] = [];
    let now = 0;
    const saver = createDocumentSaver({ store, clock: { now: () => now, setTimeout: () => 0, clearTimeout: () => {} }, log: () => {}, report: (code) => reports.push(code), count: (n) => counts.push(n) });

    expect(await saver.save('slots', { v: 1 })).toBe(false);
    expect(await saver.save('slots', { v: 2 })).toBe(false);
    expect(await saver.save('desired', { seq: 7 })).toBe(false);
    await saver.retry();
    expect(saver.unsaved).toBe(2);
    expect(reports).toEqual(['DISK_FULL']); // one episode, one report
    expect(counts.length).toBeGreaterThanOrEqual(4);
    expect(await memory.get('slots')).toBeUndefined();

    full = false;
    await saver.retry();
    expect(saver.unsaved).toBe(0);
    expect(await memory.get('slots')).toEqual({ v: 2 });
    expect(await memory.get('desired')).toEqual({ seq: 7 });

    // a new episode a minute later is reported again
    full = true;
    now = 61_000;
    expect(await saver.save('slots', { v: 3 })).toBe(false);
    expect(reports).toEqual(['DISK_FULL', 'DISK_FULL']);
  });
});
