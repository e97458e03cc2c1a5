// Artifact downloads (design §4, §5): chunks pulled over MQTT `artifact/get` in a bounded window, or
// HTTP range requests; the received-chunk bitmap is persisted so a restart resumes; length and sha256
// are verified before the artifact is committed. Nothing unverified is ever handed on. While downloading
// over MQTT the agent also listens on the artifact's multicast topic, where a wave shares one publish per chunk.
// This file is the face of download/ and picks the path: download/partial.ts (the download in progress),
// download/via-mqtt.ts and download/via-http.ts.

import { EdgefleetError, LIMITS, createSha256, decodeChunkFrame, topics } from '@edgefleet/protocol';
import type { AgentStore, Clock, Transport } from './ports.js';
import {
  acceptChunk,
  countBits,
  hasBit,
  syncPartial,
  verifyAndCommit,
  wakeUp,
  type ActiveDownload,
  type ArtifactRef,
  type DownloadControl,
  type IncrementalSha256,
} from './download/partial.js';
import { viaHttp, type HttpPathOptions } from './download/via-http.js';
import { viaMqtt, type MqttPathOptions } from './download/via-mqtt.js';

export { countBits, sha256With, type ArtifactRef, type DownloadControl, type IncrementalSha256 } from './download/partial.js';

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
  /**
   * Whether chunks may be requested now (default: the transport is connected). The agent says no between a
   * CONNACK and its artifact/data SUBACK: frames the hub sends then are dropped, and fetched twice.
   */
  canRequest?: () => boolean;
  /** 'http' tries HTTP range requests before MQTT even when the manifest names no URL. */
  prefer?: 'mqtt' | 'http';
  fetch?: typeof fetch;
  /** sha256 for chunks hashed as they arrive and files read back (default: protocol's pure-JS one; the Node agent passes node:crypto's, ~10× faster). */
  sha256Stream?: () => IncrementalSha256;
  random?: () => number;
  log?: (line: string) => void;
  /** Listen on `ef/v1/artifacts/{sha256}/data` while downloading over MQTT (design §4); default true. */
  multicast?: boolean;
  /**
   * Bytes held in memory to verify a fresh download without reading it back (default 64 MiB): the whole
   * artifact, assembled as it arrives and handed on as verified (`assemble`), or else the chunks that arrive
   * ahead of the hashed prefix. Beyond it the file is read back to verify.
   */
  holdBytes?: number;
  /**
   * Assemble a fresh download in memory and hand its verified bytes on (default true). A runtime that shares
   * one session per file among many agents (the simulator) reads the file at most once: it says no.
   */
  assemble?: boolean;
}

export interface FetchedArtifact {
  fresh: boolean;
  bytes: Uint8Array | null;
}

export interface Downloader {
  /** Feed an `artifact/data` frame (any frame: unknown or unwanted ones are ignored and counted). */
  handleFrame(payload: Uint8Array): void;
  /**
   * Download, verify and commit the artifact; `fresh` once a download committed it (false: it was on disk
   * already), with the verified bytes when the download has them in memory (they may be loaded as they
   * are: design §5). Throws EdgefleetError (DOWNLOAD_FAILED, HASH_MISMATCH, SIZE_MISMATCH, …).
   */
  fetchArtifact(ref: ArtifactRef, control: DownloadControl): Promise<FetchedArtifact>;
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
  // the whole artifact is in memory anyway once it is loaded: assembling it as it arrives costs one copy
  const holdMax = options.holdBytes ?? 64 * 1024 * 1024;
  const assemble = options.assemble ?? true;
  const syncEvery = Math.max(1, Math.floor(window / 4));
  const baseTimeout = options.timeoutMs ?? 2000;
  const maxIdle = options.maxIdleRounds ?? 6;
  const random = options.random ?? Math.random;
  const doFetch = options.fetch ?? globalThis.fetch;
  const log = options.log ?? (() => {});
  const actives = new Map<string, ActiveDownload>();
  const useMulticast = options.multicast ?? true;
  let ignored = 0;

  function accept(a: ActiveDownload, index: number, data: Uint8Array): void {
    if (!acceptChunk(a, index, data, store, holdMax)) ignored++;
  }
  const sync = (a: ActiveDownload): Promise<void> => syncPartial(a, store, clock);
  const mqtt: MqttPathOptions = {
    deviceId: options.deviceId,
    transport,
    clock,
    window,
    syncEvery,
    canRequest: options.canRequest ?? (() => transport.connected),
    baseTimeoutMs: baseTimeout,
    maxIdleRounds: maxIdle,
    multicast: useMulticast,
    random,
    sync,
  };
  const http: HttpPathOptions = { ...(options.http ? { http: options.http } : {}), fetch: doFetch, accept, sync };

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
        wakeUp(a);
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
      if (await store.hasArtifact(ref.sha256)) return { fresh: false, bytes: null };
      if (actives.has(ref.sha256)) throw new EdgefleetError('CONFLICT', `artifact ${ref.sha256} is already downloading`);
      const chunkCount = Math.ceil(ref.size / ref.chunkSize);
      const bitmap = await store.openPartial(ref.sha256, ref.size, chunkCount);
      const a: ActiveDownload = {
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
        hash:
          countBits(bitmap, chunkCount) === 0
            ? { hasher: newHasher(), next: 0, image: assemble && ref.size <= holdMax ? new Uint8Array(ref.size) : null, held: new Map(), heldBytes: 0 }
            : null,
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
              await viaHttp(a, url, http);
            } catch (err) {
              if (a.control.cancelled) throw err;
              log(`http download from ${url} failed: ${String(err)}`);
            }
          }
        };
        if (options.prefer === 'http') await tryHttp();
        if (a.received < chunkCount) {
          try {
            await viaMqtt(a, mqtt);
          } catch (err) {
            // a full disk is no better over HTTP
            if (a.control.cancelled || urls.length === 0 || options.prefer === 'http' || (err instanceof EdgefleetError && err.code === 'DISK_FULL')) throw err;
            log(`mqtt download failed (${String(err)}); trying HTTP`);
            await tryHttp();
            if (a.received < chunkCount) throw err;
          }
        }
        await sync(a);
        return { fresh: true, bytes: await verifyAndCommit(a, store, newHasher, log) };
      } finally {
        actives.delete(ref.sha256);
        if (a.mc === 'on' && transport.connected && transport.unsubscribe) {
          void transport.unsubscribe([topics.artifactMulticast(ref.sha256)]).catch(() => undefined);
        }
      }
    },
  };
}
