// Telemetry confirmations behind an external broker (design §4 telemetry): the broker's PUBACK to a device
// says nothing about the hub's database, so the hub tells each device which batch seqs it has committed
// and the agent keeps a batch until then. Coalesced: at most one command per device per interval (a
// batch of ranges), never one per batch; routine, so not audited.

import { MAX_CONFIRM_RANGES } from '@edgefleet/protocol';
import type { HubContext } from '../context.js';
import { sendTelemetryConfirm } from '../devices/commands.js';

/** Pending seqs kept per device between sends; beyond it the device re-sends and is confirmed later. */
const MAX_PENDING_PER_DEVICE = 4096;
/** Confirmation publishes awaiting the broker's PUBACK at once, over all devices. */
const MAX_OUTSTANDING = 1024;
/** A publish not acknowledged by then no longer counts against MAX_OUTSTANDING. */
const PUBLISH_TIMEOUT_MS = 30_000;

export interface TelemetryConfirmer {
  /** The hub is done with this batch (committed now, committed before, or refused for good). */
  done(deviceId: string, seq: number): void;
  /** Send what is pending now. */
  flush(): Promise<void>;
  /** Drop what is pending. */
  close(): Promise<void>;
}

export interface TelemetryConfirmerOptions {
  /** Coalescing interval (default 1 s). */
  intervalMs?: number;
}

/** Sorted, de-duplicated seqs → inclusive ranges. */
export function seqRanges(seqs: Iterable<number>): Array<[number, number]> {
  const sorted = [...new Set(seqs)].sort((a, b) => a - b);
  const ranges: Array<[number, number]> = [];
  for (const s of sorted) {
    const last = ranges[ranges.length - 1];
    if (last && s === last[1] + 1) last[1] = s;
    else ranges.push([s, s]);
  }
  return ranges;
}

export function createTelemetryConfirmer(ctx: HubContext, options: TelemetryConfirmerOptions = {}): TelemetryConfirmer {
  const intervalMs = options.intervalMs ?? 1000;
  let pending = new Map<string, Set<number>>();
  let timer: ReturnType<typeof setTimeout> | null = null;
  let closed = false;
  // Publishes not yet acknowledged by the broker. Not awaited one by one: a publish whose PUBACK never
  // comes (a broker killed mid-flight) must not hold back every later confirmation. Bounded: beyond it a
  // round is dropped (the devices re-send and are confirmed later), and a slot is freed after a while.
  let outstanding = 0;

  const sendOne = (deviceId: string, ranges: Array<[number, number]>): void => {
    if (outstanding >= MAX_OUTSTANDING) {
      ctx.metrics.inc('edgefleet_telemetry_confirms_dropped_total', {}, 1);
      return;
    }
    outstanding++;
    let held = true;
    const release = () => {
      if (held) outstanding--;
      held = false;
    };
    const t = setTimeout(release, PUBLISH_TIMEOUT_MS);
    t.unref?.();
    // the sequence is taken and the command signed before the first await: commands leave in sequence order
    sendTelemetryConfirm(ctx, deviceId, ranges)
      .then((c) => c && ctx.metrics.inc('edgefleet_telemetry_confirms_total', {}, 1))
      .catch((err: unknown) => ctx.log(`telemetry confirm ${deviceId}: ${String(err)}`)) // a lost confirmation costs a re-send
      .finally(() => {
        clearTimeout(t);
        release();
      });
  };

  const flush = (): Promise<void> => {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    const batch = pending;
    pending = new Map();
    for (const [deviceId, seqs] of batch) {
      const ranges = seqRanges(seqs);
      for (let i = 0; i < ranges.length; i += MAX_CONFIRM_RANGES) {
        try {
          sendOne(deviceId, ranges.slice(i, i + MAX_CONFIRM_RANGES));
        } catch (err) {
          ctx.log(`telemetry confirm ${deviceId}: ${String(err)}`);
        }
      }
    }
    return Promise.resolve();
  };

  return {
    done(deviceId, seq) {
      if (closed) return;
      let seqs = pending.get(deviceId);
      if (!seqs) pending.set(deviceId, (seqs = new Set()));
      if (seqs.size < MAX_PENDING_PER_DEVICE) seqs.add(seq);
      if (!timer) {
        timer = setTimeout(() => void flush(), intervalMs);
        timer.unref?.();
      }
    },
    flush,
    async close() {
      // at shutdown the broker is gone already: what is pending is re-sent by the devices and confirmed then
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
      pending = new Map();
    },
  };
}
