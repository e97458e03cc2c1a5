// The hub as a privileged client of an external broker (`--broker URL`, design §8). Credentials come from
// the URL (mqtt://user:pass@host:port). A persistent session (clean: false) lets the broker queue QoS 1
// telemetry while the hub restarts. The hub acknowledges a message to the broker only once its handler
// has settled (committed): a message the hub held when it died is redelivered to the session.

import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import { EdgefleetError, hubSubscriptions } from '@edgefleet/protocol';
import { topicMatches, type Bus, type MessageHandler, type PublishOptions } from './bus.js';

export { topicMatches };

export const HUB_CLIENT_ID = 'edgefleet_hub';

/** What the hub subscribes to (hub.ts): the session may deliver these before the handlers are back. */
const HUB_FILTERS = [hubSubscriptions.artifactGet, hubSubscriptions.reported, hubSubscriptions.status, hubSubscriptions.telemetry, hubSubscriptions.events];

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
  // mqtt.js hands over one message at a time and sends its PUBACK when `done` is called without error
  let missed = false;
  const dispatch = (packet: IPublishPacket, done: (err?: Error) => void) => {
    const topic = packet.topic;
    if (packet.retain && options.neverRetained?.(topic)) {
      // a retained copy of a never-retained topic was delivered live before: clear it on the broker
      if (packet.payload.length > 0) client.publish(topic, Buffer.alloc(0), { qos: 1, retain: true });
      return done();
    }
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload, 'utf8') : Buffer.from(packet.payload);
    const matching = handlers.filter((h) => topicMatches(h.filter, topic));
    if (matching.length === 0) {
      // The persistent session delivers queued messages right after CONNACK, before a restarted hub has
      // subscribed its handlers. Leave it unacknowledged (holding it would stall mqtt.js, and with it the
      // acks the hub's own start-up waits for); once every handler is there, reconnect for redelivery.
      if (HUB_FILTERS.some((f) => topicMatches(f, topic))) {
        missed = true;
        return done(new Error('no handler yet'));
      }
      return done();
    }
    const waits: Array<Promise<void>> = [];
    for (const h of matching) {
      try {
        const r = h.handler(topic, payload);
        if (r) waits.push(r);
      } catch (err) {
        waits.push(Promise.reject(err));
      }
    }
    if (waits.length === 0) return done();
    Promise.all(waits).then(
      () => done(),
      (err: unknown) => {
        // not acknowledged: the broker redelivers it to the session once the hub reconnects
        options.log?.(`broker client: message on ${topic} not acknowledged (${String(err)}), reconnecting for redelivery`);
        done(err instanceof Error ? err : new Error(String(err)));
        client.stream?.destroy();
      },
    );
  };
  client.handleMessage = (packet, callback) => dispatch(packet, callback as (err?: Error) => void);
  // log each distinct failure once, not on every reconnect attempt
  let lastError = '';
  client.on('error', (err) => {
    if (err.message !== lastError) options.log?.(`broker client: ${err.message}`);
    lastError = err.message;
  });
  const reconnectListeners: Array<() => void> = [];
  let connects = 0;
  client.on('connect', () => {
    if (lastError) options.log?.('broker client: connected');
    lastError = '';
    if (connects++ > 0) for (const l of reconnectListeners) l();
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
    serial: true,
    onReconnect(listener) {
      reconnectListeners.push(listener);
    },
    subscribe(filter: string, handler: MessageHandler) {
      handlers.push({ filter, handler });
      return new Promise((resolve, reject) => {
        client.subscribe(filter, { qos: 1 }, (err, granted) => {
          if (err) return reject(err);
          if (granted?.some((g) => g.qos === 128)) return reject(new EdgefleetError('FORBIDDEN', `broker refused hub subscription ${filter}`));
          if (missed && HUB_FILTERS.every((f) => handlers.some((h) => h.filter === f))) {
            missed = false;
            options.log?.('broker client: reconnecting for the messages that arrived before the hub subscribed');
            client.stream?.destroy();
          }
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
