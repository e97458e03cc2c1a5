// Artifact serving over MQTT (design §4): a device may fetch only artifacts named in its current desired
// state; chunks are queued per device and served round-robin with a global concurrency cap, so one device
// cannot starve the others. Devices listening on the artifact's multicast topic share one publish per chunk
// (design §4), in a carousel that goes round again while one of them lacks chunks; unicast only repairs.

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
import { createMulticastRegistry, type MulticastSubscribers } from '../broker/multicast.js';
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
  /** Who listens on which multicast topic (the broker's, or the devices' own word); without it every chunk goes unicast. */
  multicast?: MulticastSubscribers;
  /**
   * Behind an external broker: the hub cannot see subscriptions, so a device that says it listens
   * (ChunkRequest `multicast`) counts as subscribed from its first such request (the broker's ACL admits
   * only devices naming the artifact: mosquitto.ts writes it). Ignored when `multicast` is given.
   */
  multicastReported?: boolean;
  /**
   * A chunk a subscribed device asks for again counts as missed (unicast repair) only once it went out this
   * long before: a device busy with a wave's frames re-asks for chunks still on their way (default 10 s).
   */
  multicastRepairAfterMs?: number;
  /** How long the carousel of an artifact waits after the first subscribed device asks, so a wave's devices all listen (default 1 s). */
  multicastGatherMs?: number;
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
  // design §4 multicast carousel, per artifact: once a subscribed device asks for it (after a short gather
  // window, so a wave's devices are all listening), the hub publishes in index order every chunk that some
  // subscribed device asked for and has not been sent since it subscribed, and goes round again while one
  // still lacks some (a late joiner gets the rest next round). A chunk a device asks for again after it went out is
  // a miss: unicast (a repair), and counted as that device's.
  const reported = !options.multicast && options.multicastReported ? createMulticastRegistry() : null;
  const multicast = options.multicast ?? reported ?? undefined;
  const gatherMs = options.multicastGatherMs ?? 1000;
  const repairAfterMs = options.multicastRepairAfterMs ?? 10_000;
  interface Carousel {
    count: number;
    /** Epoch ms each chunk was last handed to the broker on the multicast topic. */
    sentAt: Map<number, number>;
    /** Subscribed devices that asked for chunks of it, until they unsubscribe. */
    members: Set<string>;
    /** Chunks being read or published now. */
    taking: Set<number>;
    cursor: number;
    phase: 'idle' | 'gathering' | 'running';
    inRing: boolean;
  }
  const carousels = new Map<string, Carousel>();
  // per device and artifact: chunks it asked for while subscribed (asked again once sent: a miss), and chunks repaired by unicast
  const asked = new Map<string, Map<string, { since: number; asked: Set<number>; repaired: Set<number> }>>();
  const MC = '*'; // ring keys of multicast carousels: '*' never occurs in a device id
  const askedBy = (deviceId: string, sha: string) => {
    let byDevice = asked.get(deviceId);
    if (!byDevice) asked.set(deviceId, (byDevice = new Map()));
    let a = byDevice.get(sha);
    if (!a) byDevice.set(sha, (a = { since: -1, asked: new Set(), repaired: new Set() }));
    return a;
  };
  const sentSince = (c: Carousel, index: number, since: number): boolean => (c.sentAt.get(index) ?? -1) >= since;
  /** The next chunk from the cursor some member still lacks; null when none does (the carousel stops). */
  const carouselNext = (sha: string, c: Carousel): number | null => {
    const lacking: Array<{ since: number; asked: Set<number> | undefined; repaired: Set<number> | undefined }> = [];
    for (const id of c.members) {
      const since = multicast?.since(id, sha);
      const a = asked.get(id)?.get(sha);
      if (since === undefined) c.members.delete(id); // unsubscribed (done) or gone
      else lacking.push({ since, asked: a?.asked, repaired: a?.repaired });
    }
    for (let k = 0; k < c.count; k++) {
      const i = (c.cursor + k) % c.count;
      if (c.taking.has(i)) continue;
      // only chunks a member asked for: a device that resumes a download asks for what it lacks, not for what it has
      if (lacking.some((m) => m.asked?.has(i) && !sentSince(c, i, m.since) && !m.repaired?.has(i))) {
        c.cursor = (i + 1) % c.count;
        return i;
      }
    }
    return null;
  };
  /** `gather`: a device's first ask on its subscription waits gatherMs for the rest of its wave; a download under way goes on at once. */
  const schedule = (sha: string, c: Carousel, gather: boolean): void => {
    if (c.phase === 'gathering') return;
    if (c.phase === 'idle' && !gather) c.phase = 'running';
    if (c.phase === 'idle') {
      c.phase = 'gathering';
      const t = setTimeout(() => {
        c.phase = 'running';
        schedule(sha, c, false);
      }, gatherMs);
      t.unref?.();
      return;
    }
    if (!c.inRing) {
      c.inRing = true;
      ring.push(MC + sha);
    }
    pump();
  };
  /** The chunks of this request the device needs by unicast now; the others ride the carousel. */
  const viaMulticast = (deviceId: string, sha: string, chunks: readonly number[], count: number): number[] => {
    const since = multicast?.since(deviceId, sha);
    if (since === undefined) {
      asked.get(deviceId)?.delete(sha);
      return [...chunks];
    }
    let c = carousels.get(sha);
    if (!c) carousels.set(sha, (c = { count, sentAt: new Map(), members: new Set(), taking: new Set(), cursor: 0, phase: 'idle', inRing: false }));
    c.members.add(deviceId);
    const a = askedBy(deviceId, sha);
    if (a.since !== since) {
      // subscribed anew (a restart, a reopened tab): what it asked before is on its disk or asked again now
      a.since = since;
      a.asked.clear();
      a.repaired.clear();
    }
    const first = a.asked.size === 0;
    const unicast: number[] = [];
    const now = Date.now();
    for (const index of chunks) {
      if (a.asked.has(index) && sentSince(c, index, since) && now - c.sentAt.get(index)! >= repairAfterMs) {
        a.asked.delete(index); // sent while it listened, and asked again: it missed it
        a.repaired.add(index);
        unicast.push(index);
      } else {
        a.asked.add(index); // on its way, or the carousel brings it
      }
    }
    schedule(sha, c, first);
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
      if (deviceId.startsWith(MC)) {
        const sha = deviceId.slice(MC.length);
        const c = carousels.get(sha);
        const index = c ? carouselNext(sha, c) : null;
        if (c && index !== null) {
          c.taking.add(index);
          cursor++;
          return { deviceId, sha, index };
        }
        ring.splice(cursor, 1);
        if (c) {
          c.inRing = false;
          if (c.taking.size === 0) c.phase = 'idle'; // nobody lacks a chunk: the next ask starts a new gather
        }
        continue;
      }
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
      const c = carousels.get(job.sha);
      try {
        if (!l || !c) return;
        const frame = await frameOf(job.sha, job.index, l);
        c.sentAt.set(job.index, Date.now()); // before the publish: a device subscribed by now receives it
        await ctx.bus.publish(topics.artifactMulticast(job.sha), frame, { qos: 1 });
        ctx.metrics.inc('edgefleet_artifact_chunks_sent_total');
        ctx.metrics.inc('edgefleet_artifact_multicast_frames_total');
      } catch (err) {
        c?.sentAt.delete(job.index);
        ctx.log(`artifact ${job.sha.slice(0, 12)} chunk ${job.index} multicast: ${String(err)}`);
      } finally {
        if (c) {
          c.taking.delete(job.index);
          if (c.phase === 'running') schedule(job.sha, c, false); // more may lack chunks (a failed publish, a new member)
        }
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
      reported?.gone(deviceId);
      asked.delete(deviceId);
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
    if (reported) {
      if (parsed.value.multicast) reported.subscribed(deviceId, sha256);
      else reported.unsubscribed(deviceId, sha256);
    }
    // design §4: only artifacts named in this device's current desired state
    if (!(await mayFetch(deviceId, sha256))) return ctx.reject('artifact-get', 'FORBIDDEN');
    const l = await layoutOf(sha256);
    if (!l) return ctx.reject('artifact-get', 'NOT_FOUND');
    const count = Math.ceil(l.size / l.chunkSize);
    if (chunks.some((i) => i >= count)) return ctx.reject('artifact-get', 'BAD_MESSAGE');
    options.onRequested?.(deviceId, sha256, chunks, count, multicast?.since(deviceId, sha256) !== undefined).catch((err: unknown) => ctx.log(`delivery record of ${deviceId}: ${String(err)}`));
    const unicast = viaMulticast(deviceId, sha256, chunks, count);
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
