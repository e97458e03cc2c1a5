// The MQTT download path (design §4): chunks pulled over `artifact/get` in a bounded window, re-requested
// after a timeout that doubles (with jitter) while nothing arrives; while it runs the agent also listens on
// the artifact's multicast topic, where a wave shares one publish per chunk.

import { EdgefleetError, topics } from '@edgefleet/protocol';
import type { Clock, Transport } from '../ports.js';
import { hasBit, waitProgress, type ActiveDownload } from './partial.js';

export interface MqttPathOptions {
  deviceId: string;
  transport: Transport;
  clock: Clock;
  /** Chunks requested but not yet received, at most. */
  window: number;
  /** Sync the bitmap after this many chunks (or 250 ms). */
  syncEvery: number;
  /** Chunks may be requested now (connected, and subscribed to artifact/data). */
  canRequest: () => boolean;
  baseTimeoutMs: number;
  maxIdleRounds: number;
  multicast: boolean;
  random: () => number;
  sync: (a: ActiveDownload) => Promise<void>;
}

export async function listenMulticast(a: ActiveDownload, o: MqttPathOptions): Promise<void> {
  if (!o.multicast || a.mc !== 'none' || !o.transport.connected) return;
  a.mc = 'asking';
  try {
    const [outcome] = await o.transport.subscribe([topics.artifactMulticast(a.ref.sha256)]);
    // refused: the broker does not offer multicast (or the hub no longer names the artifact); unicast only
    if (a.mc === 'asking') a.mc = outcome?.ok ? 'on' : 'refused';
  } catch {
    if (a.mc === 'asking') a.mc = 'none';
  }
}

function backoff(o: MqttPathOptions, round: number): number {
  const ms = Math.min(o.baseTimeoutMs * 2 ** round, 60_000);
  return ms * (0.5 + o.random() * 0.5); // jitter: devices that lost the same hub do not retry in lockstep
}

export async function viaMqtt(a: ActiveDownload, o: MqttPathOptions): Promise<void> {
  const { transport, clock, window } = o;
  let idle = 0;
  const getTopic = topics.artifactGet(o.deviceId);
  let cursor = 0;
  while (a.received < a.chunkCount) {
    if (a.control.cancelled) throw new EdgefleetError('UNAVAILABLE', 'download cancelled');
    if (a.failure) throw a.failure;
    const before = a.received;
    // subscribed before the first request: the hub then counts on the multicast to bring those chunks
    await listenMulticast(a, o);
    if (o.canRequest() && a.inflight.size <= window / 2) {
      const chunks: number[] = [];
      for (let k = 0; k < a.chunkCount && a.inflight.size + chunks.length < window; k++) {
        const i = (cursor + k) % a.chunkCount;
        if (!hasBit(a.bitmap, i) && !a.inflight.has(i)) chunks.push(i);
      }
      if (chunks.length > 0) {
        cursor = (chunks[chunks.length - 1]! + 1) % a.chunkCount;
        for (const i of chunks) a.inflight.add(i);
        try {
          await transport.publish(getTopic, JSON.stringify({ sha256: a.ref.sha256, chunks, ...(a.mc === 'on' ? { multicast: true } : {}) }), { qos: 1 });
        } catch {
          for (const i of chunks) a.inflight.delete(i);
        }
      }
    }
    if (a.received >= a.chunkCount) break;
    const progressed = a.received !== before || (await waitProgress(a, clock, backoff(o, idle)));
    // persist progress: a restart resumes from the last synced bitmap (design §5). Every quarter window or
    // 250 ms, not every chunk: each sync is an fdatasync, and a wave of devices pays them all at once.
    if (a.sinceSync > 0 && (a.sinceSync >= o.syncEvery || clock.now() - a.lastSync >= 250)) await o.sync(a);
    if (progressed) {
      idle = 0;
      continue;
    }
    // Timeout: whatever is still in flight is re-requested (design §4 "missed chunks are pulled").
    a.inflight.clear();
    cursor = 0;
    if (transport.connected && ++idle > o.maxIdleRounds) {
      throw new EdgefleetError('DOWNLOAD_FAILED', `no chunk of ${a.ref.sha256.slice(0, 12)} arrived in ${idle} rounds`);
    }
  }
}
