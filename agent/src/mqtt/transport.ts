// The agent's Transport over mqtt.js (MQTT 3.1.1, TCP or WebSocket URLs). Reconnects are ours, not
// mqtt.js's fixed 1 s retry: exponential backoff with full jitter so a fleet does not reconnect in
// lockstep after a broker restart. Last will: `offline`, retained (design §4). Shared by the Node agent
// and the browser one: no Node builtins and no Buffer — bytes are Uint8Array both ways (a Node Buffer is
// one, and mqtt.js's browser build takes them), so a bundle needs only mqtt's own browser build.

import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { SubscribeOutcome, Transport } from '../core/ports.js';

/** What mqtt.js's publish() is typed to take for bytes (Node's Buffer); a Uint8Array is passed in its place. */
type MqttPayload = Parameters<MqttClient['publishAsync']>[1];

export interface MqttTransportOptions {
  /** Broker URLs tried in turn (mqtt://, mqtts://, ws://, wss://). */
  urls: string[];
  clientId: string;
  username?: string;
  password?: string;
  will?: { topic: string; payload: string; retain: boolean; qos: 0 | 1 };
  backoff?: { initialMs?: number; maxMs?: number };
  keepaliveSeconds?: number;
  connectTimeoutMs?: number;
  random?: () => number;
  log?: (line: string) => void;
}

export interface MqttTransport extends Transport {
  /** Reconnect attempts since the last successful connect. */
  readonly attempts: number;
}

/**
 * Delay before reconnect attempt `attempt` (0-based): full jitter, uniform in [0, min(max, initial·2^attempt)],
 * at least 50 ms. Devices that lost the same broker spread out instead of reconnecting in lockstep.
 */
export function reconnectDelay(attempt: number, initialMs: number, maxMs: number, random: () => number): number {
  const cap = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.max(50, Math.floor(random() * cap));
}

export function createMqttTransport(options: MqttTransportOptions): MqttTransport {
  if (options.urls.length === 0) throw new Error('at least one broker URL is required');
  const initial = options.backoff?.initialMs ?? 500;
  const max = options.backoff?.maxMs ?? 60_000;
  const random = options.random ?? Math.random;
  const log = options.log ?? (() => {});
  const messageHandlers: ((topic: string, payload: Uint8Array) => void)[] = [];
  const connectHandlers: (() => void)[] = [];
  const disconnectHandlers: (() => void)[] = [];

  let client: MqttClient | null = null;
  let urlIndex = 0;
  let attempts = 0;
  let closed = true;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let connected = false;
  // Operations waiting on the current connection: rejected when it closes, so no caller waits forever
  // on a packet the dead connection will never acknowledge (a new connection is a new mqtt.js client).
  const pending = new Set<(err: Error) => void>();
  function guarded<T>(op: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const fail = (err: Error): void => {
        pending.delete(fail);
        reject(err);
      };
      pending.add(fail);
      op.then((v) => {
        pending.delete(fail);
        resolve(v);
      }, fail);
    });
  }
  function failPending(): void {
    for (const f of [...pending]) f(new Error('connection lost'));
  }

  function schedule(): void {
    if (closed || timer) return;
    const delay = reconnectDelay(attempts, initial, max, random);
    attempts++;
    timer = setTimeout(() => {
      timer = null;
      open();
    }, delay);
  }

  function open(): void {
    if (closed) return;
    const url = options.urls[urlIndex % options.urls.length]!;
    urlIndex++;
    const opts: IClientOptions = {
      clientId: options.clientId,
      protocolVersion: 4, // 3.1.1: what aedes speaks (design §4)
      clean: true,
      reconnectPeriod: 0, // reconnects are scheduled here, with backoff and jitter
      connectTimeout: options.connectTimeoutMs ?? 10_000,
      keepalive: options.keepaliveSeconds ?? 30,
      resubscribe: false,
      queueQoSZero: false,
      // mqtt-packet's default pre-builds a 2-byte Buffer for every 16-bit number (65,536 Buffers, ~6 MB
      // of heap that stays live for the process) to save one tiny allocation per message id / length
      // prefix written. An idle device sends a few packets a minute: allocate them as needed. Same bytes
      // on the wire. (Process-wide setting in mqtt-packet; a cache another client already built stays.)
      writeCache: false,
      ...(options.username !== undefined ? { username: options.username } : {}),
      ...(options.password !== undefined ? { password: options.password } : {}),
      ...(options.will ? { will: { topic: options.will.topic, payload: options.will.payload, retain: options.will.retain, qos: options.will.qos } } : {}),
    };
    const c = mqtt.connect(url, opts);
    client = c;
    c.on('connect', () => {
      if (client !== c) return;
      attempts = 0;
      urlIndex--; // stay on the URL that works
      connected = true;
      for (const h of connectHandlers) h();
    });
    c.on('message', (topic, payload) => {
      if (client !== c) return;
      const bytes = new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
      for (const h of messageHandlers) h(topic, bytes);
    });
    c.on('error', (err) => log(`mqtt ${url}: ${err.message}`));
    c.on('close', () => {
      if (client !== c) return;
      const was = connected;
      connected = false;
      client = null;
      c.removeAllListeners('message');
      failPending();
      c.end(true);
      if (was) for (const h of disconnectHandlers) h();
      schedule();
    });
  }

  return {
    get connected() {
      return connected;
    },
    get attempts() {
      return attempts;
    },

    connect() {
      if (!closed) return;
      closed = false;
      open();
    },

    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
      const c = client;
      client = null;
      connected = false;
      failPending();
      if (c) {
        // a clean DISCONNECT (so the broker does not publish the last will), but never wait on a dead broker
        let timer: ReturnType<typeof setTimeout> | undefined;
        const gaveUp = new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            c.end(true);
            resolve();
          }, 2000);
        });
        await Promise.race([c.endAsync(false).catch(() => {}), gaveUp]);
        clearTimeout(timer);
      }
    },

    async publish(topic, payload, opts) {
      const c = client;
      if (!c || !connected) throw new Error('not connected');
      // mqtt-packet sizes a non-Buffer payload with Buffer.byteLength, which takes any ArrayBufferView, and
      // writes it to a stream that takes a Uint8Array: no copy into a Buffer (mqtt.js types say Buffer only)
      await guarded(c.publishAsync(topic, payload as string | MqttPayload, { qos: opts.qos, retain: opts.retain ?? false }));
    },

    async subscribe(topicList) {
      const c = client;
      if (!c || !connected) throw new Error('not connected');
      const out: SubscribeOutcome[] = [];
      // One topic per SUBSCRIBE: mqtt.js v5 rejects the whole call when the broker refuses any filter (SUBACK 128).
      for (const topic of topicList) {
        try {
          const granted = await guarded(c.subscribeAsync(topic, { qos: 1 }));
          const g = granted[0];
          out.push(g && g.qos === 128 ? { topic, ok: false, reason: 'SUBACK 128' } : { topic, ok: true });
        } catch (err) {
          out.push({ topic, ok: false, reason: err instanceof Error ? err.message : String(err) });
        }
      }
      return out;
    },

    async unsubscribe(topicList) {
      const c = client;
      if (!c || !connected) return; // a clean session has dropped every subscription already
      await guarded(c.unsubscribeAsync(topicList));
    },

    onMessage(h) {
      messageHandlers.push(h);
    },
    onConnect(h) {
      connectHandlers.push(h);
    },
    onDisconnect(h) {
      disconnectHandlers.push(h);
    },
  };
}
