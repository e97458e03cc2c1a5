// Downloads resuming around a reconnect or a stall, as a closed-and-reopened browser tab showed them: a request
// sent between CONNACK and the artifact/data SUBACK is answered into the void (the broker drops the frames) and
// fetched twice; a chunk still being written when a sync snapshots must get its bit persisted by a later sync.
// Also: what a fresh download hands on to be loaded (the verified image, or nothing when not asked for).
import { describe, expect, it } from 'vitest';
import { createSha256, encodeChunkFrame, topics } from '@edgefleet/protocol';
import { createDownloader } from './downloader.js';
import { createMemoryStore } from './memory-store.js';
import { systemClock, type Transport } from './ports.js';

/** A connected transport without multicast that hands each artifact/get's chunk list to `onGet`. */
function chunkTransport(onGet: (chunks: number[]) => void): Transport {
  return {
    connected: true,
    connect() {},
    async close() {},
    async publish(topic, payload) {
      if (topic === topics.artifactGet('dev')) onGet((JSON.parse(String(payload)) as { chunks: number[] }).chunks);
    },
    async subscribe(list) {
      return list.map((topic) => ({ topic, ok: false, reason: 'no multicast here' }));
    },
    onMessage() {},
    onConnect() {},
    onDisconnect() {},
  };
}

describe('chunk requests wait for the artifact/data subscription', () => {
  it('asks for every chunk once when the download starts between CONNACK and SUBACK', async () => {
    const CHUNK = 1024;
    const bytes = Uint8Array.from({ length: 4 * CHUNK }, (_, i) => (i * 7) & 255);
    const h = createSha256();
    h.update(bytes);
    const sha256 = h.digestHex();
    let subscribed = false; // the broker routes artifact/data to the device only once this is true
    const asked: number[] = [];
    const transport = chunkTransport((chunks) => {
      asked.push(...chunks);
      const frames = chunks.map((i) => encodeChunkFrame(sha256, i, bytes.subarray(i * CHUNK, (i + 1) * CHUNK)));
      setTimeout(() => frames.forEach((f) => subscribed && downloader.handleFrame(f)), 1);
    });
    const downloader = createDownloader({ deviceId: 'dev', transport, store: createMemoryStore(), clock: systemClock, canRequest: () => subscribed, timeoutMs: 200 });
    const done = downloader.fetchArtifact({ sha256, size: bytes.length, chunkSize: CHUNK }, { cancelled: false });
    await new Promise((r) => setTimeout(r, 30));
    subscribed = true; // the SUBACK: the agent nudges its downloads
    downloader.nudge();
    expect(await done).toEqual({ fresh: true, bytes });
    expect(asked.sort((a, b) => a - b)).toEqual([0, 1, 2, 3]);
  });
});

describe('a chunk still being written during a sync', () => {
  it('gets its bit persisted by a later sync even when no further chunk arrives', async () => {
    const CHUNK = 1024;
    const bytes = Uint8Array.from({ length: 3 * CHUNK }, (_, i) => (i * 5) & 255);
    const h = createSha256();
    h.update(bytes);
    const sha256 = h.digestHex();
    const store = createMemoryStore();
    const writeChunk = store.writeChunk.bind(store);
    // chunk 0's write is slow: chunk 1 arrives while the sync it triggered waits, and is still being written
    // when that sync takes its snapshot
    store.writeChunk = async (sha, offset, data) => {
      if (offset === 0) await new Promise((r) => setTimeout(r, 40));
      return writeChunk(sha, offset, data);
    };
    const transport = chunkTransport((chunks) => {
      // the hub serves chunks 0 and 1, then goes quiet (the tab is about to close)
      for (const i of chunks.filter((c) => c < 2)) setTimeout(() => downloader.handleFrame(encodeChunkFrame(sha256, i, bytes.subarray(i * CHUNK, (i + 1) * CHUNK))), i * 5);
    });
    const downloader = createDownloader({ deviceId: 'dev', transport, store, clock: systemClock, window: 4, timeoutMs: 100, maxIdleRounds: 100 });
    const control = { cancelled: false };
    const done = downloader.fetchArtifact({ sha256, size: bytes.length, chunkSize: CHUNK }, control).catch(() => false);
    const persisted = async () => Array.from(await store.peekPartial(sha256, bytes.length, 3) ?? []);
    const until = Date.now() + 3000;
    while ((await persisted())[0] !== 0b11 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    control.cancelled = true;
    downloader.nudge();
    await done;
    expect(await persisted()).toEqual([0b11]);
  });
});

describe('the verified bytes a fresh download hands on', () => {
  const CHUNK = 1024;
  const bytes = Uint8Array.from({ length: 5 * CHUNK + 100 }, (_, i) => (i * 13) & 255);
  const h = createSha256();
  h.update(bytes);
  const sha256 = h.digestHex();

  /** Chunks answered last first; `corrupt` flips a byte of that chunk once. Counts the file read-backs. */
  function setup(options: { assemble?: boolean; holdBytes?: number; corrupt?: number }) {
    const store = createMemoryStore();
    let readBacks = 0;
    const readPartial = store.readPartial.bind(store);
    store.readPartial = async (sha) => {
      readBacks++;
      return readPartial(sha);
    };
    let corrupt = options.corrupt;
    const transport = chunkTransport((chunks) => {
      const frames = chunks.reverse().map((i) => {
        const data = bytes.slice(i * CHUNK, (i + 1) * CHUNK);
        if (i === corrupt) {
          data[0] = data[0]! ^ 1;
          corrupt = undefined;
        }
        return encodeChunkFrame(sha256, i, data);
      });
      setTimeout(() => frames.forEach((f) => downloader.handleFrame(f)), 1);
    });
    const { assemble, holdBytes } = options;
    const downloader = createDownloader({ deviceId: 'dev', transport, store, clock: systemClock, timeoutMs: 200, ...(assemble !== undefined ? { assemble } : {}), ...(holdBytes !== undefined ? { holdBytes } : {}) });
    const fetch = () => downloader.fetchArtifact({ sha256, size: bytes.length, chunkSize: CHUNK }, { cancelled: false });
    return { store, fetch, readBacks: () => readBacks };
  }

  it('is the image assembled in memory, hashed without reading the file back', async () => {
    const s = setup({});
    expect(await s.fetch()).toEqual({ fresh: true, bytes });
    expect(s.readBacks()).toBe(0);
    expect(await s.store.readArtifact(sha256)).toEqual(bytes);
    expect(await s.fetch()).toEqual({ fresh: false, bytes: null }); // on disk now: whoever loads it reads and checks it
  });

  it('is none when the runtime does not want it (assemble: false), and the file read back when too large to hold', async () => {
    const held = setup({ assemble: false });
    expect(await held.fetch()).toEqual({ fresh: true, bytes: null });
    expect(held.readBacks()).toBe(0);
    const large = setup({ holdBytes: CHUNK });
    expect(await large.fetch()).toEqual({ fresh: true, bytes });
    expect(large.readBacks()).toBe(1);
  });

  it('is never a corrupted image: HASH_MISMATCH, nothing committed', async () => {
    const s = setup({ corrupt: 2 });
    await expect(s.fetch()).rejects.toMatchObject({ code: 'HASH_MISMATCH' });
    expect(await s.store.hasArtifact(sha256)).toBe(false);
    expect(await s.fetch()).toEqual({ fresh: true, bytes }); // fetched again whole
  });
});
