// One artifact download in progress (design §5 resumable): the received-chunk bitmap, chunks written in
// order of arrival and hashed in index order, syncs that persist only written chunks, and the final
// length + sha256 check before the artifact is committed. Nothing unverified is ever handed on.

import { EdgefleetError } from '@edgefleet/protocol';
import type { AgentStore, Clock } from '../ports.js';

export interface ArtifactRef {
  sha256: string;
  size: number;
  chunkSize: number;
  /** HTTP(S) locations serving the same bytes with range requests (manifest `artifact.urls`). */
  urls?: string[];
}

export interface IncrementalSha256 {
  update(bytes: Uint8Array): unknown;
  digestHex(): string;
}

export interface DownloadControl {
  /** Set by the caller to stop this download (superseded by a newer desired state, agent stopping). */
  cancelled: boolean;
  onProgress?: (received: number, total: number) => void;
}

export interface ActiveDownload {
  ref: ArtifactRef;
  chunkCount: number;
  /** Chunks received (a bit is reserved as a chunk is accepted, before its write is done). */
  bitmap: Uint8Array;
  /** Chunks whose write has completed: the only bits a sync may persist (design §5 resumable). */
  written: Uint8Array;
  received: number;
  inflight: Set<number>;
  writes: Promise<void>;
  sinceSync: number;
  lastSync: number;
  wake: (() => void) | null;
  failure: EdgefleetError | null;
  control: DownloadControl;
  /**
   * sha256 of the chunks received so far, fed in index order, so a fresh download is verified without
   * reading the file back. With `image` (a download of at most `holdBytes`, for a runtime that loads bytes)
   * the chunks are assembled in memory and hashed from it as the gaps fill: the image, exactly the bytes
   * hashed, is handed on to be loaded (no second read, no second hash). Without one, chunks ahead of the
   * next are held by reference up to `holdBytes`. null: a resumed download, or too large or too far out of
   * order — verified from the file.
   */
  hash: { hasher: IncrementalSha256; next: number; image: Uint8Array | null; held: Map<number, Uint8Array>; heldBytes: number } | null;
  /** Multicast subscription for this connection: none yet, asked, granted, refused (e.g. Mosquitto's ACL). */
  mc: 'none' | 'asking' | 'on' | 'refused';
}

export const hasBit = (b: Uint8Array, i: number): boolean => (b[i >> 3]! & (1 << (i & 7))) !== 0;
const setBit = (b: Uint8Array, i: number): void => {
  b[i >> 3] = b[i >> 3]! | (1 << (i & 7));
};

/** sha256 hex of whole bytes with an incremental hasher. */
export function sha256With(newHasher: () => IncrementalSha256, bytes: Uint8Array): string {
  const h = newHasher();
  h.update(bytes);
  return h.digestHex();
}

export function countBits(b: Uint8Array, n: number): number {
  let c = 0;
  for (let i = 0; i < n; i++) if (hasBit(b, i)) c++;
  return c;
}

export const chunkLength = (a: ActiveDownload, i: number): number =>
  i === a.chunkCount - 1 ? a.ref.size - i * a.ref.chunkSize : a.ref.chunkSize;

function hashInOrder(a: ActiveDownload, index: number, data: Uint8Array, holdMax: number): void {
  const h = a.hash!;
  if (h.image) {
    h.image.set(data, index * a.ref.chunkSize);
    while (h.next < a.chunkCount && hasBit(a.bitmap, h.next)) {
      const at = h.next * a.ref.chunkSize;
      h.hasher.update(h.image.subarray(at, at + chunkLength(a, h.next)));
      h.next++;
    }
    return;
  }
  if (index !== h.next) {
    if (h.heldBytes + data.length > holdMax) {
      a.hash = null; // the file has every byte: verifyAndCommit reads it back instead
      return;
    }
    h.held.set(index, data);
    h.heldBytes += data.length;
    return;
  }
  h.hasher.update(data);
  h.next++;
  for (let d = h.held.get(h.next); d !== undefined; d = h.held.get(h.next)) {
    h.held.delete(h.next);
    h.heldBytes -= d.length;
    h.hasher.update(d);
    h.next++;
  }
}

/** Take one chunk; false (nothing changed) for one out of range, already held, or of the wrong length. */
export function acceptChunk(a: ActiveDownload, index: number, data: Uint8Array, store: AgentStore, holdMax: number): boolean {
  if (index >= a.chunkCount || hasBit(a.bitmap, index) || data.length !== chunkLength(a, index)) return false;
  // `bitmap` reserves the bit so a duplicate frame is not written twice; `written` gets it once the
  // write is done, and only `written` is ever persisted (after a sync makes those bytes durable).
  setBit(a.bitmap, index);
  a.inflight.delete(index);
  a.received++;
  a.sinceSync++;
  if (a.hash) hashInOrder(a, index, data, holdMax);
  a.writes = a.writes
    .then(() => store.writeChunk(a.ref.sha256, index * a.ref.chunkSize, data))
    .then(() => setBit(a.written, index))
    .catch((err: unknown) => {
      // a full disk keeps its code: the agent reports DISK_FULL and retries once there is room
      const code = err instanceof EdgefleetError && err.code === 'DISK_FULL' ? 'DISK_FULL' : 'DOWNLOAD_FAILED';
      a.failure ??= new EdgefleetError(code, `cannot write chunk ${index}: ${String(err)}`, { cause: err });
    });
  a.control.onProgress?.(a.received, a.chunkCount);
  wakeUp(a);
  return true;
}

export function wakeUp(a: ActiveDownload): void {
  const wake = a.wake;
  a.wake = null;
  wake?.();
}

export async function syncPartial(a: ActiveDownload, store: AgentStore, clock: Clock): Promise<void> {
  await a.writes;
  if (a.failure) throw a.failure;
  // Snapshot the chunks written so far, not `bitmap`: chunks accepted while we awaited are still being
  // written, and a bit persisted for them would survive a kill that their bytes do not.
  const durable = a.written.slice();
  // those still being written wait for the next sync: without a count they would wait for the next chunk,
  // which may never come before the agent is closed (the last chunks before a stall were fetched again)
  a.sinceSync = a.received - countBits(durable, a.chunkCount);
  a.lastSync = clock.now();
  await store.syncPartial(a.ref.sha256, durable);
}

/** Resolves true when a chunk arrives (or a nudge), false after `ms`. */
export function waitProgress(a: ActiveDownload, clock: Clock, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const h = clock.setTimeout(() => {
      a.wake = null;
      resolve(false);
    }, ms);
    a.wake = () => {
      clock.clearTimeout(h);
      resolve(true);
    };
  });
}

/** Verify the whole artifact and commit it; resolves to the verified bytes when it has them (the image, or the file read back). */
export async function verifyAndCommit(a: ActiveDownload, store: AgentStore, newHasher: () => IncrementalSha256, log: (line: string) => void): Promise<Uint8Array | null> {
  let got: string;
  let bytes: Uint8Array | null;
  if (a.hash && a.hash.next === a.chunkCount) {
    got = a.hash.hasher.digestHex(); // every chunk, in order, each of the length acceptChunk checked
    bytes = a.hash.image;
  } else {
    log(`verifying ${a.ref.sha256.slice(0, 12)} from the file (resumed, or chunks too far out of order)`);
    bytes = await store.readPartial(a.ref.sha256);
    if (bytes.length !== a.ref.size) {
      await store.discardPartial(a.ref.sha256);
      throw new EdgefleetError('SIZE_MISMATCH', `artifact is ${bytes.length} bytes, manifest says ${a.ref.size}`);
    }
    got = sha256With(newHasher, bytes);
  }
  a.hash = null;
  if (got !== a.ref.sha256) {
    await store.discardPartial(a.ref.sha256); // design §3: a bad artifact is discarded whole and fetched again
    throw new EdgefleetError('HASH_MISMATCH', `artifact sha256 ${got.slice(0, 12)}…, manifest says ${a.ref.sha256.slice(0, 12)}…`);
  }
  await store.commitPartial(a.ref.sha256);
  return bytes;
}
