// Per-device rate limits on the device → hub messages the hub stores (design §4: one client cannot
// exhaust the hub): a token bucket per (topic kind, device). A refused message is counted as
// RATE_LIMITED and changes nothing. Reported state and status are last-value rows overwritten in
// place (no growth), and refusing one could leave a stale state behind, so they are not limited here.
// The same buckets keyed by a source address limit guesses at enrolment codes (createKeyedRateLimit).

export interface RateLimit {
  /** Messages a device may send at once after being quiet. */
  burst: number;
  /** Sustained messages per second. */
  perSecond: number;
}

export type LimitedKind = 'events' | 'telemetry';

export type DeviceRateLimitOptions = Partial<Record<LimitedKind, RateLimit | false>> & {
  /** Buckets kept in memory at most; the least recently used go first (default 100k). */
  maxBuckets?: number;
  /** Clock in ms (tests). */
  now?: () => number;
};

/**
 * Defaults. Events: an agent keeps at most 256 unsent events while offline and sends them all when it
 * reconnects (agent core), so the burst lets that backlog through; an agent in normal operation emits a
 * handful per update. Telemetry is not limited unless configured: a refused batch is lost to the agent
 * (it was acknowledged and leaves the outbox), and an agent drains a whole outbox in a burst after an
 * outage; its storage is bounded by (deviceId, seq) de-duplication and raw-window retention instead.
 * An operator who wants a cap sets one above the catch-up, e.g. `{ burst: 1000, perSecond: 0.5 }`.
 */
export const DEVICE_RATE_LIMITS: Readonly<Record<LimitedKind, RateLimit | false>> = {
  events: { burst: 300, perSecond: 1 },
  telemetry: false,
};

interface Bucket {
  tokens: number;
  at: number;
}

export interface DeviceRateLimits {
  /** Take one token for a message of `kind` from `deviceId`; false: refuse it. */
  take(kind: string, deviceId: string): boolean;
  /** Buckets in memory (bounded by maxBuckets). */
  size(): number;
  /** A removed device's buckets go. */
  forget(deviceId: string): void;
}

export function createDeviceRateLimits(options: DeviceRateLimitOptions = {}): DeviceRateLimits {
  const now = options.now ?? Date.now;
  const maxBuckets = Math.max(1, options.maxBuckets ?? 100_000);
  const limits = new Map<string, RateLimit>();
  for (const kind of Object.keys(DEVICE_RATE_LIMITS) as LimitedKind[]) {
    const l = options[kind] === undefined ? DEVICE_RATE_LIMITS[kind] : options[kind];
    if (l) limits.set(kind, { burst: Math.max(1, l.burst), perSecond: Math.max(0, l.perSecond) });
  }
  // Map order is recency order: a touched bucket is re-inserted at the end, eviction takes the front.
  // An evicted bucket comes back full, which only ever favours a device that has been quiet the longest.
  const buckets = new Map<string, Bucket>();

  return {
    take(kind, deviceId) {
      const limit = limits.get(kind);
      if (!limit) return true;
      const key = `${kind}\u0000${deviceId}`;
      const t = now();
      let b = buckets.get(key);
      if (b) {
        buckets.delete(key);
        b.tokens = Math.min(limit.burst, b.tokens + (Math.max(0, t - b.at) / 1000) * limit.perSecond);
        b.at = t;
      } else {
        b = { tokens: limit.burst, at: t };
        while (buckets.size >= maxBuckets) {
          const oldest = buckets.keys().next().value;
          if (oldest === undefined) break;
          buckets.delete(oldest);
        }
      }
      buckets.set(key, b);
      if (b.tokens < 1) return false;
      b.tokens -= 1;
      return true;
    },
    size: () => buckets.size,
    forget(deviceId) {
      for (const kind of limits.keys()) buckets.delete(`${kind}\u0000${deviceId}`);
    },
  };
}

export interface KeyedRateLimit {
  /** Take one token for `key`; false: refuse. */
  take(key: string): boolean;
  size(): number;
}

/** The same token buckets for one kind of request keyed by anything (a source address), least recently used evicted. */
export function createKeyedRateLimit(limit: RateLimit, options: Pick<DeviceRateLimitOptions, 'maxBuckets' | 'now'> = {}): KeyedRateLimit {
  const buckets = createDeviceRateLimits({ ...options, events: limit, telemetry: false });
  return { take: (key) => buckets.take('events', key), size: () => buckets.size() };
}
