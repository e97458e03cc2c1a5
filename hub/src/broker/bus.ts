// The hub's view of MQTT: publish and subscribe, whether the broker is embedded (in-process) or external.

export interface PublishOptions {
  qos?: 0 | 1;
  retain?: boolean;
}

/**
 * A handler that returns a promise holds the message's acknowledgement until it settles (design §4: a
 * QoS 1 PUBLISH is acknowledged once the hub has committed it). Resolved: acknowledged. Rejected: not
 * acknowledged, so the message comes again (the device resends, or the broker redelivers to the hub's
 * persistent session).
 */
export type MessageHandler = (topic: string, payload: Buffer) => void | Promise<void>;

export interface Bus {
  publish(topic: string, payload: Uint8Array | string, options?: PublishOptions): Promise<void>;
  /** Subscribe with full rights (the hub's own subscriptions). */
  subscribe(filter: string, handler: MessageHandler): Promise<void>;
  /**
   * True when the broker hands over the next message only after the current one is acknowledged (an
   * external broker through mqtt.js): a handler then settles at once instead of waiting for a batch.
   */
  readonly serial?: boolean;
  /**
   * External brokers: `listener` runs after every reconnect (not the first connect). A restarted broker may
   * have lost its retained messages, or restored older ones from its last save.
   */
  onReconnect?(listener: () => void): void;
  /** Disconnect a client at once (device removed). Best effort for external brokers. */
  disconnect(clientId: string): void;
  close(): Promise<void>;
}

/** MQTT topic filter matching (single-level `+`, multi-level `#`). */
export function topicMatches(filter: string | readonly string[], topic: string | readonly string[]): boolean {
  // either side may come split on '/' already (a subscription's filter, once; a topic matched against several)
  const f = typeof filter === 'string' ? filter.split('/') : filter;
  const t = typeof topic === 'string' ? topic.split('/') : topic;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
