// Artifact serving over MQTT (design §4): a device may fetch only artifacts named in its current desired
// state; chunks are queued per device and served round-robin with a global concurrency cap, so one device
// cannot starve the others. Devices listening on the artifact's multicast topic share one publish per chunk
// (design §4); what they missed goes unicast.

import {
  ChunkRequest,
  DEFAULT_CHUNK_SIZE,
  Envelope,
  LIMITS,
  Manifest,
  encodeChunkFrame,
  fromBase64,
  parseMessage,
  topics,
  utf8Decode,
} from '@edgefleet/protocol';
import type { HubContext } from '../context.js';
import type { MulticastSubscribers } from '../broker/multicast.js';
import type { ArtifactStore } from './store.js';

/** The manifest inside a stored model version's signed envelope. */
function manifestOf(envelopeJson: string): Manifest {
  const env = Envelope.parse(JSON.parse(envelopeJson) as unknown);
  return Manifest.parse(JSON.parse(utf8Decode(fromBase64(env.payload))) as unknown);
}

export interface ChunkServerOptions {
  /**
   * A device's request passed every check: these chunks of an artifact of `count` chunks (deliveries.ts);
   * `multicast` when it listens on the artifact's multicast topic, which may bring it chunks it never asks for.
   */
  onRequested?: (deviceId: string, sha256: string, chunks: readonly number[], count: number, multicast: boolean) => Promise<void>;
  /** Chunks queued per device at most (requests beyond it are dropped; the device re-requests). */
  perDeviceQueue?: number;
  /** Chunks being read and published at once, over all devices. */
  concurrency?: number;
  /** Bytes of encoded frames kept in memory: a wave fetches the same chunks from many devices. */
  frameCacheBytes?: number;
  /** Multicast subscribers (embedded broker only); without it every chunk goes unicast. */
  multicast?: MulticastSubscribers;
  /** A chunk multicast this recently is not multicast again for a device that subscribed after it: unicast. */
  multicastRepeatMs?: number;
}

export interface ChunkServer {
  /** One artifact/get request; resolves once it is queued or refused (never rejects for a refusal). */
  handle(deviceId: string, payload: Buffer): Promise<void>;
  /** Forget a device's queue (removed device). */
  drop(deviceId: string): void;
  idle(): Promise<void>;
  stats(): { queuedDevices: number; inFlight: number };
}

export function createChunkServer(
  ctx: HubContext,
  artifacts: ArtifactStore,
  mayFetch: (deviceId: string, sha256: string) => Promise<boolean>,
  options: ChunkServerOptions = {},
): ChunkServer {
  const perDevice = options.perDeviceQueue ?? LIMITS.chunkWindow * 2;
  const concurrency = options.concurrency ?? 16;
  const queues = new Map<string, Array<{ sha: string; index: number }>>();
  const ring: string[] = [];
  let cursor = 0;
  let inFlight = 0;
  let idleWaiters: Array<() => void> = [];
  const layout = new Map<string, { size: number; chunkSize: number }>();
  const handling = new Set<Promise<void>>(); // requests being checked (their store reads), for idle()
  // design §4 multicast: per artifact, chunks queued for one publish and when each was last published;
  // per device, chunks it asked for that were left to the multicast (asked again: it missed them → unicast)
  const multicast = options.multicast;
  const repeatMs = options.multicastRepeatMs ?? 30_000;
  const mcState = new Map<string, { pending: Set<number>; sentAt: Map<number, number> }>();
  const leftToMulticast = new Map<string, Map<string, Set<number>>>();
  const MC = '*'; // ring keys of multicast queues: '*' never occurs in a device id
  const enqueue = (key: string, sha: string, index: number): void => {
    let q = queues.get(key);
    if (!q) {
      q = [];
      queues.set(key, q);
      ring.push(key);
    }
    q.push({ sha, index });
  };
  /** The chunks of this request the device still needs by unicast; the others ride the multicast. */
  const viaMulticast = (deviceId: string, sha: string, chunks: readonly number[]): number[] => {
    const since = multicast?.since(deviceId, sha);
    if (since === undefined) {
      leftToMulticast.get(deviceId)?.delete(sha);
      return [...chunks];
    }
    let st = mcState.get(sha);
    if (!st) mcState.set(sha, (st = { pending: new Set(), sentAt: new Map() }));
    let byDevice = leftToMulticast.get(deviceId);
    if (!byDevice) leftToMulticast.set(deviceId, (byDevice = new Map()));
    let left = byDevice.get(sha);
    if (!left) byDevice.set(sha, (left = new Set()));
    const now = Date.now();
    const unicast: number[] = [];
    for (const index of chunks) {
      if (left.has(index)) {
        left.delete(index); // asked again: the multicast did not bring it
        unicast.push(index);
        continue;
      }
      const sentAt = st.sentAt.get(index);
      if (st.pending.has(index) || (sentAt !== undefined && sentAt >= since)) {
        left.add(index); // queued for, or already on its way in, a publish this device is subscribed to
      } else if (sentAt !== undefined && now - sentAt < repeatMs) {
        unicast.push(index); // a late joiner pulls what it missed (design §4)
      } else {
        st.pending.add(index);
        left.add(index);
        enqueue(MC + sha, sha, index);
      }
    }
    return unicast;
  };
  // LRU of encoded frames (Map order = recency): one file read per chunk per wave, not per device
  const frameCacheMax = options.frameCacheBytes ?? 32 * 1024 * 1024;
  const frames = new Map<string, Uint8Array>();
  const readsInFlight = new Map<string, Promise<Uint8Array>>();
  let frameBytes = 0;
  const frameOf = async (sha: string, index: number, l: { size: number; chunkSize: number }): Promise<Uint8Array> => {
    const key = `${sha}:${index}`;
    const hit = frames.get(key);
    if (hit) {
      frames.delete(key);
      frames.set(key, hit);
      return hit;
    }
    let reading = readsInFlight.get(key);
    if (!reading) {
      const offset = index * l.chunkSize;
      reading = artifacts.read(sha, offset, Math.min(l.chunkSize, l.size - offset)).then((bytes) => encodeChunkFrame(sha, index, bytes));
      readsInFlight.set(key, reading);
      void reading.finally(() => readsInFlight.delete(key)).catch(() => undefined);
    } else {
      return reading;
    }
    const frame = await reading;
    frames.set(key, frame);
    frameBytes += frame.length;
    for (const [k, f] of frames) {
      if (frameBytes <= frameCacheMax) break;
      frames.delete(k);
      frameBytes -= f.length;
    }
    return frame;
  };

  const layoutOf = async (sha: string): Promise<{ size: number; chunkSize: number } | undefined> => {
    let l = layout.get(sha);
    if (!l) {
      const mv = await ctx.store.modelVersionBySha(sha);
      if (!mv) return undefined;
      l = { size: mv.size, chunkSize: manifestOf(mv.envelope).artifact.chunkSize ?? DEFAULT_CHUNK_SIZE };
      layout.set(sha, l);
    }
    return l;
  };

  const settle = () => {
    if (inFlight === 0 && ring.length === 0) {
      const w = idleWaiters;
      idleWaiters = [];
      for (const f of w) f();
    }
  };

  const next = (): { deviceId: string; sha: string; index: number } | null => {
    while (ring.length > 0) {
      if (cursor >= ring.length) cursor = 0;
      const deviceId = ring[cursor]!;
      const q = queues.get(deviceId);
      const item = q?.shift();
      if (!q || q.length === 0) {
        ring.splice(cursor, 1);
        queues.delete(deviceId);
      } else {
        cursor++;
      }
      if (item) return { deviceId, ...item };
    }
    return null;
  };

  const pump = () => {
    while (inFlight < concurrency) {
      const job = next();
      if (!job) break;
      inFlight++;
      void serve(job).finally(() => {
        inFlight--;
        pump();
        settle();
      });
    }
    settle();
  };

  const serve = async (job: { deviceId: string; sha: string; index: number }) => {
    const l = await layoutOf(job.sha);
    if (job.deviceId.startsWith(MC)) {
      // one publish reaches every subscriber; the broker admitted only devices naming the artifact (policy.ts)
      const st = mcState.get(job.sha);
      try {
        if (!l) return;
        const frame = await frameOf(job.sha, job.index, l);
        st?.sentAt.set(job.index, Date.now()); // before the publish: a device subscribed by now receives it
        await ctx.bus.publish(topics.artifactMulticast(job.sha), frame, { qos: 1 });
        ctx.metrics.inc('edgefleet_artifact_chunks_sent_total');
        ctx.metrics.inc('edgefleet_artifact_multicast_frames_total');
      } catch (err) {
        st?.sentAt.delete(job.index);
        ctx.log(`artifact ${job.sha.slice(0, 12)} chunk ${job.index} multicast: ${String(err)}`);
      } finally {
        st?.pending.delete(job.index);
      }
      return;
    }
    // re-check at send time: the desired state may have changed while the chunk waited
    if (!(await mayFetch(job.deviceId, job.sha))) return;
    if (!l) return;
    try {
      await ctx.bus.publish(topics.artifactData(job.deviceId), await frameOf(job.sha, job.index, l), { qos: 1 });
      ctx.metrics.inc('edgefleet_artifact_chunks_sent_total');
    } catch (err) {
      ctx.log(`artifact ${job.sha.slice(0, 12)} chunk ${job.index} to ${job.deviceId}: ${String(err)}`);
    }
  };

  return {
    handle(deviceId, payload) {
      const p = handleOne(deviceId, payload).finally(() => handling.delete(p));
      handling.add(p);
      return p;
    },
    drop(deviceId) {
      queues.delete(deviceId);
      leftToMulticast.delete(deviceId);
    },
    async idle() {
      while (handling.size > 0) await Promise.allSettled([...handling]);
      if (inFlight === 0 && ring.length === 0) return;
      await new Promise<void>((r) => idleWaiters.push(r));
    },
    stats: () => ({ queuedDevices: ring.length, inFlight }),
  };

  async function handleOne(deviceId: string, payload: Buffer): Promise<void> {
    const parsed = parseMessage(payload, ChunkRequest, LIMITS.chunkRequest);
    if (!parsed.ok) return ctx.reject('artifact-get', parsed.code);
    const { sha256, chunks } = parsed.value;
    // design §4: only artifacts named in this device's current desired state
    if (!(await mayFetch(deviceId, sha256))) return ctx.reject('artifact-get', 'FORBIDDEN');
    const l = await layoutOf(sha256);
    if (!l) return ctx.reject('artifact-get', 'NOT_FOUND');
    const count = Math.ceil(l.size / l.chunkSize);
    if (chunks.some((i) => i >= count)) return ctx.reject('artifact-get', 'BAD_MESSAGE');
    options.onRequested?.(deviceId, sha256, chunks, count, multicast?.since(deviceId, sha256) !== undefined).catch((err: unknown) => ctx.log(`delivery record of ${deviceId}: ${String(err)}`));
    const unicast = viaMulticast(deviceId, sha256, chunks);
    if (unicast.length === 0) return pump();
    let q = queues.get(deviceId);
    if (!q) {
      q = [];
      queues.set(deviceId, q);
      ring.push(deviceId);
    }
    let dropped = 0;
    for (const index of unicast) {
      if (q.some((e) => e.sha === sha256 && e.index === index)) continue;
      if (q.length >= perDevice) {
        dropped++;
        continue;
      }
      q.push({ sha: sha256, index });
    }
    if (dropped > 0) ctx.reject('artifact-get', 'TOO_LARGE');
    pump();
  }
}
