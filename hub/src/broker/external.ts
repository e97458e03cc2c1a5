// The hub as a privileged client of an external MQTT 5 broker (`--broker URL`, design §8), one of possibly
// several replicas: its own client id, device → hub topics through shared subscriptions (replica.ts).
// Credentials come from the URL (mqtt://user:pass@host:port). A persistent session (clean: false with a
// session expiry) lets the broker queue QoS 1 messages while the hub restarts. The hub acknowledges a
// message to the broker only once its handler has settled (committed): a message the hub held when it
// died is redelivered to the session, if the hub is back before the session expires.

import mqtt, { type IPublishPacket, type ISubscriptionMap, type MqttClient } from 'mqtt';
import { EdgefleetError, hubSubscriptions, parseTopic } from '@edgefleet/protocol';
import { topicMatches, type Bus, type MessageHandler, type PublishOptions } from './bus.js';
import { replicaSubscription } from './replica.js';

export { topicMatches };

/**
 * How long the broker keeps the session of a hub that is away (MQTT 5 Session Expiry Interval), by whether
 * another hub can take its messages meanwhile (design §8). A broker hands a shared subscription's messages
 * to each member session in turn whether its client is connected or not, and drops what it queued for a
 * session when that expires (Mosquitto 2.0.11, measured: with two replicas every other message waits for
 * the one that is away, until its session expires). So:
 * - one hub (SQLite): nobody else could take its share; its session holds it for a day (a hub restarted
 *   within that loses nothing);
 * - replicas (PostgreSQL): short, so the live replicas get all of it soon after one goes; one back within
 *   it resumes its session and gets what was queued for it. What an expired session held is re-sent by
 *   the devices for telemetry (kept until a hub confirms it, design §4); device events in it are lost, and a
 *   report in it is missing until the device reports again or a replica starts a new session (replica.ts
 *   `snapshot`: the retained reports).
 */
export const SESSION_EXPIRY_SECONDS = 86_400;
export const REPLICA_SESSION_EXPIRY_SECONDS = 30;

export function defaultSessionExpiry(engine: 'sqlite' | 'postgres'): number {
  return engine === 'postgres' ? REPLICA_SESSION_EXPIRY_SECONDS : SESSION_EXPIRY_SECONDS;
}

/**
 * MQTT keepalive of the hub's connection. A frozen hub (SIGSTOP, a VM paused) keeps its TCP connection, and
 * the broker keeps sending it its share until 1.5 × keepalive passed without a packet (MQTT 5 §3.1.2.10);
 * only then does its session expiry start. 15 s: a frozen replica's connection is ended within ~23 s.
 */
export const KEEPALIVE_SECONDS = 15;

/** What the hub subscribes to (hub.ts): the session may deliver these before the handlers are back. */
const HUB_FILTERS = [hubSubscriptions.artifactGet, hubSubscriptions.reported, hubSubscriptions.status, hubSubscriptions.telemetry, hubSubscriptions.events];

export interface BrokerClientOptions {
  /** `edgefleet_hub_<replicaId>` (replica.ts): unique per replica, or two replicas take each other's session. */
  clientId: string;
  log?: (line: string) => void;
  /** Each CONNACK and each lost connection (the `edgefleet_broker_connections_total` counter). */
  onConnection?: (event: 'connect' | 'close') => void;
  /** Default SESSION_EXPIRY_SECONDS (one hub; replicas: defaultSessionExpiry). 0 ends the session with the connection. */
  sessionExpirySeconds?: number;
  /** Default KEEPALIVE_SECONDS. */
  keepaliveSeconds?: number;
  /**
   * Topics whose messages are never retained (default: device events and telemetry, design §4). A retained
   * copy the broker hands over on subscribe (retain flag set) was delivered live before (it would be
   * ingested again on every start), so it is not passed on, and the hub clears it with an empty retained message.
   */
  neverRetained?: (topic: string) => boolean;
}

/** A SUBACK refusal (reason code ≥ 0x80; mqtt.js v5 fails the subscribe with it) as the hub's error. */
function refused(topic: string, err: Error & { packet?: { granted?: unknown[] } }): EdgefleetError {
  const reason = err.packet?.granted?.find((g): g is number => typeof g === 'number' && g >= 0x80);
  const code = reason !== undefined ? ` (reason code 0x${reason.toString(16)})` : '';
  return new EdgefleetError(
    'FORBIDDEN',
    `broker refused the hub's subscription to ${topic}: ${err.message}${code}; the hub's broker user must be allowed to subscribe to it (README "Brokers": ACLs for shared subscriptions)`,
    { cause: err },
  );
}

export async function connectBrokerClient(url: string, options: BrokerClientOptions): Promise<Bus> {
  const parsed = new URL(url);
  const expiry = options.sessionExpirySeconds ?? SESSION_EXPIRY_SECONDS;
  // MQTT 5 §3.1.2.11.2: a four-byte integer of seconds
  if (!(Number.isInteger(expiry) && expiry >= 0 && expiry <= 0xffffffff)) throw new EdgefleetError('BAD_INPUT', `broker session expiry must be whole seconds from 0 to 4294967295, got ${expiry}`);
  const client: MqttClient = mqtt.connect(url, {
    clientId: options.clientId,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    // MQTT 5 for shared subscriptions (design §8); a persistent session needs a non-zero expiry in MQTT 5
    protocolVersion: 5,
    properties: { sessionExpiryInterval: expiry },
    clean: false,
    keepalive: options.keepaliveSeconds ?? KEEPALIVE_SECONDS,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
  });
  const neverRetained = options.neverRetained ?? ((t: string) => ['events', 'telemetry'].includes(parseTopic(t)?.kind ?? ''));
  const handlers: Array<{ filter: string; handler: MessageHandler; live: string; snapshot?: string }> = [];
  // mqtt.js hands over one message at a time and sends its PUBACK when `done` is called without error
  let missed = false;
  const dispatch = (packet: IPublishPacket, done: (err?: Error) => void) => {
    const topic = packet.topic;
    if (packet.retain && neverRetained(topic)) {
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
  // retained copies a non-shared subscription hands over at subscribe time (replica.ts `snapshot`)
  const snapshot = (filter: string) =>
    client
      .subscribeAsync(filter, { qos: 1 })
      .then(() => client.unsubscribeAsync(filter))
      .catch((err: Error) => options.log?.(`broker client: retained snapshot of ${filter}: ${refused(filter, err).message}`));
  const resubscribe = (live: string) =>
    // the object form with `resubscribe`: mqtt.js skips a filter it believes subscribed otherwise
    client.subscribeAsync({ [live]: { qos: 1, rh: 1 }, resubscribe: true } as ISubscriptionMap).catch((err: Error) => options.log?.(`broker client: re-subscribing ${live}: ${refused(live, err).message}`));
  client.on('connect', (connack) => {
    options.onConnection?.('connect');
    if (lastError) options.log?.('broker client: connected');
    lastError = '';
    if (connects++ === 0) return;
    // a new session (the broker lost the old one) has no retained copies handed over yet
    if (!connack.sessionPresent) for (const h of handlers) if (h.snapshot) void snapshot(h.snapshot);
    // mqtt.js re-subscribes only when the session is gone. Mosquitto 2.0 restores a persisted session after
    // its restart without its shared subscriptions, so a present session can still be deaf: subscribe again
    // (the same filter replaces the subscription; retain handling 1 sends no retained copies if it existed).
    if (connack.sessionPresent) for (const live of new Set(handlers.map((h) => h.live))) void resubscribe(live);
    for (const l of reconnectListeners) l();
  });
  client.on('close', () => options.onConnection?.('close'));
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
      // messages are matched to handlers by their topic, so the live and the snapshot subscription of a
      // filter reach the same handler
      const plan = replicaSubscription(filter);
      handlers.push({ filter, handler, live: plan.live, ...(plan.snapshot ? { snapshot: plan.snapshot } : {}) });
      return new Promise((resolve, reject) => {
        client.subscribe(plan.live, { qos: 1 }, (err, granted) => {
          if (err) return reject(refused(plan.live, err));
          // MQTT 3.1.1-style refusal in the granted list, in case a client version passes it through
          if (granted?.some((g) => g.qos === 128)) return reject(refused(plan.live, new Error('SUBACK 0x80')));
          if (missed && HUB_FILTERS.every((f) => handlers.some((h) => h.filter === f))) {
            missed = false;
            options.log?.('broker client: reconnecting for the messages that arrived before the hub subscribed');
            client.stream?.destroy();
          }
          if (!plan.snapshot) return resolve();
          void snapshot(plan.snapshot).then(() => resolve());
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
