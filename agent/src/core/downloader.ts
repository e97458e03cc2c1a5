// Artifact downloads (design §4, §5): chunks pulled over MQTT `artifact/get` in a bounded window, or
// HTTP range requests; the received-chunk bitmap is persisted so a restart resumes; length and sha256
// are verified before the artifact is committed. Nothing unverified is ever handed on. While downloading
// over MQTT the agent also listens on the artifact's multicast topic, where a wave shares one publish per chunk.

import {
  EdgefleetError,
  LIMITS,
  createSha256,
  decodeChunkFrame,
  topics,
  toBase64,
  utf8Encode,
} from '@edgefleet/protocol';
import type { AgentStore, Clock, Transport } from './ports.js';

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

export interface DownloaderOptions {
  deviceId: string;
  transport: Transport;
  store: AgentStore;
  clock: Clock;
  /** Chunks requested but not yet received, at most (≤ LIMITS.chunkWindow). */
  window?: number;
  /** Wait for a chunk before re-requesting; doubles (with jitter) while nothing arrives. */
  timeoutMs?: number;
  /** Rounds without any progress before the attempt fails with DOWNLOAD_FAILED. */
  maxIdleRounds?: number;
  /** Hub base URL + Basic credentials for `/api/v1/artifacts/<sha256>` (design §8). */
  http?: { baseUrl?: string; username: string; password: string };
  /** 'http' tries HTTP range requests before MQTT even when the manifest names no URL. */
  prefer?: 'mqtt' | 'http';
  fetch?: typeof fetch;
  /** sha256 for chunks hashed as they arrive and files read back (default: protocol's pure-JS one; the Node agent passes node:crypto's, ~10× faster). */
  sha256Stream?: () => IncrementalSha256;
  random?: () => number;
  log?: (line: string) => void;
  /** Listen on `ef/v1/artifacts/{sha256}/data` while downloading over MQTT (design §4); default true. */
  multicast?: boolean;
  /** Bytes of out-of-order chunks held to hash in order (default 16 MiB); beyond it the file is read back to verify. */
  holdBytes?: number;
}

export interface DownloadControl {
  /** Set by the caller to stop this download (superseded by a newer desired state, agent stopping). */
  cancelled: boolean;
  onProgress?: (received: number, total: number) => void;
}

interface Active {
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
   * sha256 of the chunks received so far, fed in index order as they arrive (chunks ahead of the next one
   * are held, up to `holdBytes`), so a fresh download is verified without reading the file back or
   * assembling it in memory. null: a resumed download, or too far out of order — verified from the file.
   */
  hash: { hasher: IncrementalSha256; next: number; held: Map<number, Uint8Array>; heldBytes: number } | null;
  /** Multicast subscription for this connection: none yet, asked, granted, refused (e.g. Mosquitto's ACL). */
  mc: 'none' | 'asking' | 'on' | 'refused';
}

const hasBit = (b: Uint8Array, i: number): boolean => (b[i >> 3]! & (1 << (i & 7))) !== 0;
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

export interface Downloader {
  /** Feed an `artifact/data` frame (any frame: unknown or unwanted ones are ignored and counted). */
  handleFrame(payload: Uint8Array): void;
  /**
   * Download, verify and commit the artifact; resolves true once a download verified and committed it,
   * false when it was on disk already. Throws EdgefleetError (DOWNLOAD_FAILED, HASH_MISMATCH, SIZE_MISMATCH, …).
   */
  fetchArtifact(ref: ArtifactRef, control: DownloadControl): Promise<boolean>;
  /** Bytes of `ref` already on disk in a resumable partial download (0: none); writes nothing. */
  bytesReceived(ref: ArtifactRef): Promise<number>;
  /** Wake waiting downloads now (the transport just connected: request at once instead of after a timeout). */
  nudge(): void;
  readonly ignoredFrames: number;
}

export function createDownloader(options: DownloaderOptions): Downloader {
  const { transport, store, clock } = options;
  const window = Math.max(1, Math.min(options.window ?? 16, LIMITS.chunkWindow));
  const newHasher = options.sha256Stream ?? createSha256;
  // chunks received ahead of the hashed prefix are referenced (not copied) until the gap fills
  const holdMax = options.holdBytes ?? 16 * 1024 * 1024;
  const syncEvery = Math.max(1, Math.floor(window / 4));
  const baseTimeout = options.timeoutMs ?? 2000;
  const maxIdle = options.maxIdleRounds ?? 6;
  const random = options.random ?? Math.random;
  const doFetch = options.fetch ?? globalThis.fetch;
  const log = options.log ?? (() => {});
  const actives = new Map<string, Active>();
  const useMulticast = options.multicast ?? true;
  let ignored = 0;

  async function listenMulticast(a: Active): Promise<void> {
    if (!useMulticast || a.mc !== 'none' || !transport.connected) return;
    a.mc = 'asking';
    try {
      const [outcome] = await transport.subscribe([topics.artifactMulticast(a.ref.sha256)]);
      // refused: the broker does not offer multicast (or the hub no longer names the artifact); unicast only
      if (a.mc === 'asking') a.mc = outcome?.ok ? 'on' : 'refused';
    } catch {
      if (a.mc === 'asking') a.mc = 'none';
    }
  }

  const chunkLength = (a: Active, i: number): number =>
    i === a.chunkCount - 1 ? a.ref.size - i * a.ref.chunkSize : a.ref.chunkSize;

  function accept(a: Active, index: number, data: Uint8Array): void {
    if (index >= a.chunkCount || hasBit(a.bitmap, index) || data.length !== chunkLength(a, index)) {
      ignored++;
      return;
    }
    // `bitmap` reserves the bit so a duplicate frame is not written twice; `written` gets it once the
    // write is done, and only `written` is ever persisted (after a sync makes those bytes durable).
    setBit(a.bitmap, index);
    a.inflight.delete(index);
    a.received++;
    a.sinceSync++;
    if (a.hash) hashInOrder(a, index, data);
    a.writes = a.writes
      .then(() => store.writeChunk(a.ref.sha256, index * a.ref.chunkSize, data))
      .then(() => setBit(a.written, index))
      .catch((err: unknown) => {
        // a full disk keeps its code: the agent reports DISK_FULL and retries once there is room
        const code = err instanceof EdgefleetError && err.code === 'DISK_FULL' ? 'DISK_FULL' : 'DOWNLOAD_FAILED';
        a.failure ??= new EdgefleetError(code, `cannot write chunk ${index}: ${String(err)}`, { cause: err });
      });
    a.control.onProgress?.(a.received, a.chunkCount);
    const wake = a.wake;
    a.wake = null;
    wake?.();
  }

  function hashInOrder(a: Active, index: number, data: Uint8Array): void {
    const h = a.hash!;
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

  async function sync(a: Active): Promise<void> {
    await a.writes;
    if (a.failure) throw a.failure;
    // Snapshot the chunks written so far, not `bitmap`: chunks accepted while we awaited are still being
    // written, and a bit persisted for them would survive a kill that their bytes do not.
    const durable = a.written.slice();
    a.sinceSync = 0;
    a.lastSync = clock.now();
    await store.syncPartial(a.ref.sha256, durable);
  }

  function waitProgress(a: Active, ms: number): Promise<boolean> {
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

  function backoff(round: number): number {
    const ms = Math.min(baseTimeout * 2 ** round, 60_000);
    return ms * (0.5 + random() * 0.5); // jitter: devices that lost the same hub do not retry in lockstep
  }

  async function viaMqtt(a: Active): Promise<void> {
    let idle = 0;
    const getTopic = topics.artifactGet(options.deviceId);
    let cursor = 0;
    while (a.received < a.chunkCount) {
      if (a.control.cancelled) throw new EdgefleetError('UNAVAILABLE', 'download cancelled');
      if (a.failure) throw a.failure;
      const before = a.received;
      // subscribed before the first request: the hub then counts on the multicast to bring those chunks
      await listenMulticast(a);
      if (transport.connected && a.inflight.size <= window / 2) {
        const chunks: number[] = [];
        for (let k = 0; k < a.chunkCount && a.inflight.size + chunks.length < window; k++) {
          const i = (cursor + k) % a.chunkCount;
          if (!hasBit(a.bitmap, i) && !a.inflight.has(i)) chunks.push(i);
        }
        if (chunks.length > 0) {
          cursor = (chunks[chunks.length - 1]! + 1) % a.chunkCount;
          for (const i of chunks) a.inflight.add(i);
          try {
            await transport.publish(getTopic, JSON.stringify({ sha256: a.ref.sha256, chunks }), { qos: 1 });
          } catch {
            for (const i of chunks) a.inflight.delete(i);
          }
        }
      }
      if (a.received >= a.chunkCount) break;
      const progressed = a.received !== before || (await waitProgress(a, backoff(idle)));
      // persist progress: a restart resumes from the last synced bitmap (design §5). Every quarter window or
      // 250 ms, not every chunk: each sync is an fdatasync, and a wave of devices pays them all at once.
      if (a.sinceSync > 0 && (a.sinceSync >= syncEvery || clock.now() - a.lastSync >= 250)) await sync(a);
      if (progressed) {
        idle = 0;
        continue;
      }
      // Timeout: whatever is still in flight is re-requested (design §4 "missed chunks are pulled").
      a.inflight.clear();
      cursor = 0;
      if (transport.connected && ++idle > maxIdle) {
        throw new EdgefleetError('DOWNLOAD_FAILED', `no chunk of ${a.ref.sha256.slice(0, 12)} arrived in ${idle} rounds`);
      }
    }
  }

  async function viaHttp(a: Active, url: string): Promise<void> {
    const headers: Record<string, string> = {};
    const cred = options.http;
    // device credentials go only to the hub this device belongs to, never to a CDN named in a manifest
    if (cred?.baseUrl && url.startsWith(cred.baseUrl.replace(/\/$/, '') + '/')) {
      headers.authorization = `Basic ${toBase64(utf8Encode(`${cred.username}:${cred.password}`))}`;
    }
    const perRequest = 16;
    let i = 0;
    while (i < a.chunkCount) {
      if (a.control.cancelled) throw new EdgefleetError('UNAVAILABLE', 'download cancelled');
      if (hasBit(a.bitmap, i)) {
        i++;
        continue;
      }
      let j = i;
      while (j + 1 < a.chunkCount && j + 1 - i < perRequest && !hasBit(a.bitmap, j + 1)) j++;
      const start = i * a.ref.chunkSize;
      const end = Math.min(a.ref.size, (j + 1) * a.ref.chunkSize) - 1;
      const res = await doFetch(url, { headers: { ...headers, range: `bytes=${start}-${end}` } });
      if (res.status !== 206 && res.status !== 200) {
        throw new EdgefleetError('DOWNLOAD_FAILED', `GET ${url} → HTTP ${res.status}`);
      }
      let body = new Uint8Array(await res.arrayBuffer());
      if (res.status === 200) body = body.subarray(start, end + 1); // server ignored the range
      if (body.length !== end - start + 1) {
        throw new EdgefleetError('SIZE_MISMATCH', `range ${start}-${end} returned ${body.length} bytes`);
      }
      for (let k = i; k <= j; k++) {
        const off = (k - i) * a.ref.chunkSize;
        accept(a, k, body.subarray(off, off + chunkLength(a, k)));
      }
      await sync(a);
      i = j + 1;
    }
  }

  async function verifyAndCommit(a: Active): Promise<void> {
    let got: string;
    if (a.hash && a.hash.next === a.chunkCount) {
      got = a.hash.hasher.digestHex(); // every chunk, in order, each of the length accept() checked
    } else {
      log(`verifying ${a.ref.sha256.slice(0, 12)} from the file (resumed, or chunks too far out of order)`);
      const bytes = await store.readPartial(a.ref.sha256);
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
  }

  return {
    get ignoredFrames() {
      return ignored;
    },

    async bytesReceived(ref) {
      const chunkCount = Math.ceil(ref.size / ref.chunkSize);
      const bitmap = await store.peekPartial(ref.sha256, ref.size, chunkCount);
      if (!bitmap) return 0;
      const n = countBits(bitmap, chunkCount);
      // every chunk is chunkSize long but the last
      return n * ref.chunkSize - (hasBit(bitmap, chunkCount - 1) ? chunkCount * ref.chunkSize - ref.size : 0);
    },

    nudge() {
      for (const a of actives.values()) {
        a.inflight.clear();
        if (a.mc !== 'refused') a.mc = 'none'; // a new connection (clean session): subscribe again
        const wake = a.wake;
        a.wake = null;
        wake?.();
      }
    },

    handleFrame(payload) {
      const r = decodeChunkFrame(payload);
      if (!r.ok) {
        ignored++;
        return;
      }
      const a = actives.get(r.value.sha256);
      if (!a) {
        ignored++;
        return;
      }
      accept(a, r.value.index, r.value.data);
    },

    async fetchArtifact(ref, control) {
      if (await store.hasArtifact(ref.sha256)) return false;
      if (actives.has(ref.sha256)) throw new EdgefleetError('CONFLICT', `artifact ${ref.sha256} is already downloading`);
      const chunkCount = Math.ceil(ref.size / ref.chunkSize);
      const bitmap = await store.openPartial(ref.sha256, ref.size, chunkCount);
      const a: Active = {
        ref,
        chunkCount,
        bitmap,
        written: bitmap.slice(),
        received: countBits(bitmap, chunkCount),
        inflight: new Set(),
        writes: Promise.resolve(),
        sinceSync: 0,
        lastSync: clock.now(),
        wake: null,
        failure: null,
        control,
        // a resumed download has chunks only on disk: it verifies from the file
        hash: countBits(bitmap, chunkCount) === 0 ? { hasher: newHasher(), next: 0, held: new Map(), heldBytes: 0 } : null,
        mc: 'none',
      };
      if (a.received > 0) log(`resuming ${ref.sha256.slice(0, 12)} at ${a.received}/${chunkCount} chunks`);
      actives.set(ref.sha256, a);
      try {
        // MQTT chunks are the primary path (design §4); HTTP range requests to the manifest's URLs or the
        // hub are the alternative (design §8): first when `prefer: 'http'`, otherwise after MQTT gave up.
        const hubUrl = options.http?.baseUrl ? `${options.http.baseUrl.replace(/\/$/, '')}/api/v1/artifacts/${ref.sha256}` : null;
        const urls = [...new Set([...(ref.urls ?? []), ...(hubUrl ? [hubUrl] : [])])];
        const tryHttp = async (): Promise<void> => {
          for (const url of urls) {
            if (a.received >= chunkCount) return;
            try {
              await viaHttp(a, url);
            } catch (err) {
              if (a.control.cancelled) throw err;
              log(`http download from ${url} failed: ${String(err)}`);
            }
          }
        };
        if (options.prefer === 'http') await tryHttp();
        if (a.received < chunkCount) {
          try {
            await viaMqtt(a);
          } catch (err) {
            // a full disk is no better over HTTP
            if (a.control.cancelled || urls.length === 0 || options.prefer === 'http' || (err instanceof EdgefleetError && err.code === 'DISK_FULL')) throw err;
            log(`mqtt download failed (${String(err)}); trying HTTP`);
            await tryHttp();
            if (a.received < chunkCount) throw err;
          }
        }
        await sync(a);
        await verifyAndCommit(a);
        return true;
      } finally {
        actives.delete(ref.sha256);
        if (a.mc === 'on' && transport.connected && transport.unsubscribe) {
          void transport.unsubscribe([topics.artifactMulticast(ref.sha256)]).catch(() => undefined);
        }
      }
    },
  };
}
