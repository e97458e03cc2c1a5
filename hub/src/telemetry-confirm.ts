// Telemetry confirmations behind an external broker (design §4 telemetry): the broker's PUBACK to a device
// says nothing about the hub's database, so the hub tells each device which batch seqs it has committed
// and the agent keeps a batch until then. Coalesced: at most one command per device per interval (a
// batch of ranges), never one per batch; routine, so not audited.

import { MAX_CONFIRM_RANGES } from '@edgefleet/protocol';
import type { HubContext } from './context.js';
import { sendTelemetryConfirm } from './commands.js';

/** Pending seqs kept per device between sends; beyond it the device re-sends and is confirmed later. */
const MAX_PENDING_PER_DEVICE = 4096;

export interface TelemetryConfirmer {
  /** The hub is done with this batch (committed now, committed before, or refused for good). */
  done(deviceId: string, seq: number): void;
  /** Send what is pending now. */
  flush(): Promise<void>;
  /** Drop what is pending and wait for a send under way. */
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
  let sending: Promise<void> = Promise.resolve();
  let closed = false;

  const sendAll = async (batch: Map<string, Set<number>>): Promise<void> => {
    for (const [deviceId, seqs] of batch) {
      const ranges = seqRanges(seqs);
      for (let i = 0; i < ranges.length; i += MAX_CONFIRM_RANGES) {
        try {
          await sendTelemetryConfirm(ctx, deviceId, ranges.slice(i, i + MAX_CONFIRM_RANGES));
        } catch (err) {
          // a lost confirmation costs a re-send by the device, which is confirmed again
          ctx.log(`telemetry confirm ${deviceId}: ${String(err)}`);
        }
      }
    }
  };

  const flush = (): Promise<void> => {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    if (pending.size === 0) return sending;
    const batch = pending;
    pending = new Map();
    sending = sending.then(() => sendAll(batch));
    return sending;
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
      await sending;
    },
  };
}
