// The hub as a privileged client of an external broker (`--broker URL`, design §8). Credentials come from
// the URL (mqtt://user:pass@host:port). A persistent session (clean: false) lets the broker queue QoS 1
// telemetry while the hub restarts.

import mqtt, { type MqttClient } from 'mqtt';
import { EdgefleetError } from '@edgefleet/protocol';
import type { Bus, MessageHandler, PublishOptions } from './broker/bus.js';

export const HUB_CLIENT_ID = 'edgefleet_hub';

/** MQTT topic filter matching (single-level `+`, multi-level `#`). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

export interface BrokerClientOptions {
  clientId?: string;
  log?: (line: string) => void;
  /**
   * Topics whose messages are never retained (design §4: device events and telemetry). A retained copy the
   * broker hands over on subscribe (retain flag set) was delivered live before, so it is not passed on, and
   * the hub clears it on the broker with an empty retained message.
   */
  neverRetained?: (topic: string) => boolean;
}

export async function connectBrokerClient(url: string, options: BrokerClientOptions = {}): Promise<Bus> {
  const parsed = new URL(url);
  const client: MqttClient = mqtt.connect(url, {
    clientId: options.clientId ?? HUB_CLIENT_ID,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    protocolVersion: 4,
    clean: false,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
  });
  const handlers: Array<{ filter: string; handler: MessageHandler }> = [];
  client.on('message', (topic, payload, packet) => {
    if (packet.retain && options.neverRetained?.(topic)) {
      if (payload.length > 0) client.publish(topic, Buffer.alloc(0), { qos: 1, retain: true });
      return;
    }
    for (const h of handlers) if (topicMatches(h.filter, topic)) h.handler(topic, payload);
  });
  // log each distinct failure once, not on every reconnect attempt
  let lastError = '';
  client.on('error', (err) => {
    if (err.message !== lastError) options.log?.(`broker client: ${err.message}`);
    lastError = err.message;
  });
  client.on('connect', () => {
    if (lastError) options.log?.('broker client: connected');
    lastError = '';
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.end(true);
      reject(new EdgefleetError('UNAVAILABLE', `cannot connect to broker ${parsed.host}`));
    }, 10_000);
    client.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return {
    publish(topic: string, payload: Uint8Array | string, o: PublishOptions = {}) {
      return new Promise((resolve, reject) => {
        const buf = typeof payload === 'string' ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
        client.publish(topic, buf, { qos: o.qos ?? 1, retain: o.retain ?? false }, (err) => (err ? reject(err) : resolve()));
      });
    },
    subscribe(filter: string, handler: MessageHandler) {
      handlers.push({ filter, handler });
      return new Promise((resolve, reject) => {
        client.subscribe(filter, { qos: 1 }, (err, granted) => {
          if (err) return reject(err);
          if (granted?.some((g) => g.qos === 128)) return reject(new EdgefleetError('FORBIDDEN', `broker refused hub subscription ${filter}`));
          resolve();
        });
      });
    },
    disconnect() {
      // An external broker drops a removed device when it reloads its password file (mosquitto: SIGHUP).
    },
    close() {
      return new Promise((resolve) => client.end(false, {}, () => resolve()));
    },
  };
}
