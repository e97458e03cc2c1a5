// Who listens on which artifact multicast topic (design §4 `ef/v1/artifacts/{sha256}/data`), and since
// when: the chunk server skips unicasting a chunk to a device that will receive (or has received) it by
// multicast, and unicasts what a device missed before it subscribed.

export interface MulticastSubscribers {
  /** Epoch ms at which `deviceId`'s subscription to the multicast topic of `sha256` became active; undefined if none. */
  since(deviceId: string, sha256: string): number | undefined;
  /** Devices subscribed to the multicast topic of `sha256` right now. */
  count(sha256: string): number;
}

export interface MulticastRegistry extends MulticastSubscribers {
  subscribed(deviceId: string, sha256: string): void;
  unsubscribed(deviceId: string, sha256: string): void;
  /** The device's connection ended: clean sessions drop every subscription. */
  gone(deviceId: string): void;
}

export function createMulticastRegistry(now: () => number = Date.now): MulticastRegistry {
  const bySha = new Map<string, Map<string, number>>();
  const byDevice = new Map<string, Set<string>>();
  return {
    subscribed(deviceId, sha256) {
      let m = bySha.get(sha256);
      if (!m) bySha.set(sha256, (m = new Map()));
      // a repeated SUBSCRIBE keeps the earlier time: the subscription was active all along
      if (!m.has(deviceId)) m.set(deviceId, now());
      let s = byDevice.get(deviceId);
      if (!s) byDevice.set(deviceId, (s = new Set()));
      s.add(sha256);
    },
    unsubscribed(deviceId, sha256) {
      const m = bySha.get(sha256);
      m?.delete(deviceId);
      if (m?.size === 0) bySha.delete(sha256);
      const s = byDevice.get(deviceId);
      s?.delete(sha256);
      if (s?.size === 0) byDevice.delete(deviceId);
    },
    gone(deviceId) {
      for (const sha of byDevice.get(deviceId) ?? []) {
        const m = bySha.get(sha);
        m?.delete(deviceId);
        if (m?.size === 0) bySha.delete(sha);
      }
      byDevice.delete(deviceId);
    },
    since: (deviceId, sha256) => bySha.get(sha256)?.get(deviceId),
    count: (sha256) => bySha.get(sha256)?.size ?? 0,
  };
}
