// The embedded broker (design §4): aedes on TCP and on WebSocket, the access policy of §4, a packet-size
// cap on every connection, limits on connections not yet authenticated, and an in-process Bus for the hub
// itself (no network client, full rights).
//
// A device's PUBLISH reaches the hub's handlers from aedes's authorizePublish hook, not through an
// in-process subscription: aedes writes a QoS 1 PUBACK before it publishes to subscribers, so only a hook
// that runs first can hold the PUBACK until the hub has committed the message.

import './number-cache.js'; // before aedes writes its first packet
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { Aedes, type Client } from 'aedes';
import type { Duplex } from 'node:stream';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { LIMITS, parseTopic } from '@edgefleet/protocol';
import { coalesceWrites, guardPacketSize } from './packet-limit.js';
import { indexRetained } from './retained-index.js';
import { createBrokerPolicy, type BrokerPolicyOptions } from './policy.js';
import { dialHost, parseHostPort } from './address.js';
import { createMulticastRegistry, type MulticastSubscribers } from './multicast.js';
import type { Metrics } from '../metrics.js';
import { PRE_AUTH_LIMITS, createPreAuthGate, type PreAuthLimits, type PreAuthTicket } from './pre-auth.js';
import { topicMatches, type Bus, type MessageHandler, type PublishOptions } from './bus.js';

export interface EmbeddedBrokerOptions extends BrokerPolicyOptions {
  mqtt?: string | null;
  ws?: string | null;
  maxPacketBytes?: number;
  /** Limits on connections before their CONNACK (default PRE_AUTH_LIMITS). */
  preAuth?: Partial<PreAuthLimits>;
  /** A connection whose CONNECT has not arrived by then is closed (default 10 s). */
  connectTimeoutMs?: number;
  /** Messages of one connection the hub may hold unacknowledged; its reads wait beyond (default 64). */
  maxUnacked?: number;
  onOversize?: () => void;
  onClientConnected?: (clientId: string) => void;
  /** A client went away and no newer connection with its id exists. */
  onClientGone?: (clientId: string) => void;
}

export interface EmbeddedBroker {
  bus: Bus;
  urls: { mqtt?: string; ws?: string };
  /** Connected MQTT clients right now. */
  connectedClients(): number;
  /** Connections not yet past CONNACK, and the bytes they sent. */
  pending(): { connections: number; bytes: number };
  /** Device messages the hub holds unacknowledged (waiting for their commit). */
  unacked(): number;
  /** Devices listening on artifact multicast topics (design §4), for the chunk server. */
  multicast: MulticastSubscribers;
  /**
   * Take over an HTTP upgrade as MQTT over WebSocket (the hub's HTTP port, `/mqtt`: http-upgrade.ts),
   * through the same guards as the ws listener: frame and packet caps, pre-auth limits, the access policy.
   */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

function listen(server: NetServer | HttpServer, addr: string, what: string): Promise<string> {
  const { host, port } = parseHostPort(addr, what);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const a = server.address() as AddressInfo;
      resolve(`${dialHost(host)}:${a.port}`);
    });
  });
}

/**
 * Flow control of one connection: while `max` of its messages wait for their acknowledgement, aedes's
 * next read of the connection gets nothing, so its bytes stay in the kernel (TCP backpressure). aedes
 * reads again on 'readable', which we emit once a slot is free. A connection thus holds at most `max`
 * messages plus those of the one read in progress.
 */
function createReadGate(conn: Duplex, max: number) {
  let unacked = 0;
  let wanted = false;
  const read = conn.read.bind(conn);
  conn.read = ((size?: number) => {
    if (unacked >= max) {
      wanted = true;
      return null;
    }
    return read(size);
  }) as typeof conn.read;
  return {
    hold() {
      unacked++;
    },
    release() {
      unacked--;
      if (wanted && unacked < max) {
        wanted = false;
        conn.emit('readable');
      }
    },
  };
}

/**
 * A client's PUBLISH ends at the hub: only devices connect here, a device publishes only device → hub
 * topics, and no device may subscribe to one (design §4), so once authorizePublish has handed the message
 * to the hub, aedes's own publish (its emitter, retained store and offline queues) could only reach the
 * hub's in-process subscription, which ignores client messages. Skipping it cut the ingest bench's
 * allocations by about a quarter. The hub's own publishes (no client) go through unchanged.
 */
function endClientPublishesAtTheHub(aedes: Aedes): void {
  type Publish = (packet: unknown, client: unknown, done?: (err?: Error) => void) => void;
  const target = aedes as unknown as { publish: Publish };
  const publish = target.publish.bind(aedes);
  target.publish = (packet, client, done) => {
    if (client !== null && client !== undefined && typeof client !== 'function') return done?.();
    return publish(packet, client, done);
  };
}

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const maxPacket = options.maxPacketBytes ?? LIMITS.mqttPacket;
  const maxUnacked = options.maxUnacked ?? 64;
  const policy = createBrokerPolicy(options);
  const gates = new WeakMap<Client, ReturnType<typeof createReadGate>>();
  const tickets = new WeakMap<Client, PreAuthTicket>();
  const hubHandlers: Array<{ filter: readonly string[]; handler: MessageHandler }> = []; // filters split on '/'
  let held = 0;

  // Hand a device's message to the hub's handlers; aedes acknowledges (and publishes it on) when `done`
  // is called, so a handler's promise holds the PUBACK. A rejected one closes the connection unacknowledged.
  // per topic, the handlers whose filter matches it (a device's few topics, over and over); cleared when
  // a handler subscribes, and when it grows past a bound (topics are per device)
  const matching = new Map<string, MessageHandler[]>();
  const handlersOf = (topic: string): MessageHandler[] => {
    let hs = matching.get(topic);
    if (!hs) {
      const levels = topic.split('/');
      hs = hubHandlers.filter((h) => topicMatches(h.filter, levels)).map((h) => h.handler);
      if (matching.size >= 50_000) matching.clear();
      matching.set(topic, hs);
    }
    return hs;
  };
  const failed = (err: unknown) => Promise.reject(err);
  const callHandler = (h: MessageHandler, topic: string, payload: Buffer) => {
    try {
      return h(topic, payload);
    } catch (err) {
      return failed(err);
    }
  };

  // Hand a device's message to the hub's handlers; aedes acknowledges (and publishes it on) when `done`
  // is called, so a handler's promise holds the PUBACK. A rejected one closes the connection unacknowledged.
  const deliverToHub = (client: Client, topic: string, payload: Buffer, done: (err?: Error | null) => void) => {
    const hs = handlersOf(topic);
    let wait: Promise<unknown> | void = undefined;
    if (hs.length === 1) wait = callHandler(hs[0]!, topic, payload);
    else if (hs.length > 1) {
      const waits = hs.map((h) => callHandler(h, topic, payload)).filter((r): r is Promise<void> => Boolean(r));
      if (waits.length > 0) wait = Promise.all(waits);
    }
    if (!wait) return done(null);
    const gate = gates.get(client);
    gate?.hold();
    held++;
    const settle = (err: Error | null) => {
      held--;
      gate?.release();
      done(err);
    };
    wait.then(
      () => settle(null),
      (err: unknown) => settle(err instanceof Error ? err : new Error(String(err))),
    );
  };

  const aedes = await Aedes.createBroker({
    ...policy,
    authorizePublish(client, packet, done) {
      policy.authorizePublish!(client, packet, (err) => {
        if (err || client === null) return done(err ?? null);
        deliverToHub(client, packet.topic, packet.payload as Buffer, done);
      });
    },
    maxClientsIdLength: 128,
    // a slow device must not hold hub memory for a minute
    drainTimeout: 30_000,
    // a CONNECT is one small packet: a connection that has not sent it by then only holds memory
    connectTimeout: options.connectTimeoutMs ?? 10_000,
  });
  endClientPublishesAtTheHub(aedes);
  indexRetained((aedes as unknown as { persistence: Parameters<typeof indexRetained>[0] }).persistence); // a SUBSCRIBE to one topic finds its retained message without a scan
  const preAuthLimits = { ...PRE_AUTH_LIMITS, ...options.preAuth };
  const preAuth = createPreAuthGate(preAuthLimits, (reason) => options.onRefused(reason));
  aedes.on('connackSent', (packet, client) => {
    if ((packet as { returnCode?: number }).returnCode === 0) tickets.get(client)?.release();
  });
  const cut = () => options.onOversize?.();
  /**
   * Hand one connection to aedes with the pre-auth limits, the packet cap and flow control; false when
   * the pending cap refuses it (the caller closes it). `raw`: the socket under a WebSocket, metered
   * itself because ws buffers whole frames before the MQTT stream sees them.
   */
  const handle = (conn: Duplex, req?: IncomingMessage, raw?: Socket): boolean => {
    const ticket = preAuth.admit();
    if (!ticket) return false;
    conn.once('close', () => ticket.release());
    const cap = () => (ticket.pending ? Math.min(maxPacket, preAuthLimits.connectionBytes) : maxPacket);
    raw?.on('data', (chunk: Buffer) => {
      if (ticket.pending && !ticket.take(chunk.length)) raw.destroy();
    });
    const guarded = guardPacketSize(conn, cap, cut, raw ? undefined : (n) => ticket.take(n));
    const gate = createReadGate(guarded, maxUnacked);
    const client = aedes.handle(guarded, req);
    tickets.set(client, ticket);
    gates.set(client, gate);
    return true;
  };
  const multicast = createMulticastRegistry();
  aedes.on('client', (client) => options.onClientConnected?.(client.id));
  aedes.on('clientDisconnect', (client) => {
    const clients = (aedes as unknown as { clients: Record<string, unknown> }).clients;
    if (!clients[client.id]) {
      multicast.gone(client.id);
      options.onClientGone?.(client.id);
    }
  });
  // emitted after the SUBACK, so a multicast published later reaches this subscriber
  aedes.on('subscribe', (subs, client) => {
    if (!client) return;
    for (const s of subs) {
      const t = parseTopic(s.topic);
      if (t?.kind === 'artifact-multicast' && (s.qos as number) !== 128) multicast.subscribed(client.id, t.sha256);
    }
  });
  aedes.on('unsubscribe', (unsubs, client) => {
    if (!client) return;
    for (const topic of unsubs) {
      const t = parseTopic(topic);
      if (t?.kind === 'artifact-multicast') multicast.unsubscribed(client.id, t.sha256);
    }
  });

  /**
   * The one way a WebSocket reaches aedes, for the ws listener and the HTTP port's `/mqtt` alike. ws
   * buffers a whole frame before we see it: frames are capped at the packet limit too.
   */
  const webSocketServer = (attach: { server: HttpServer } | { noServer: true }) => {
    const wss = new WebSocketServer({ ...attach, maxPayload: maxPacket + 8 });
    wss.on('connection', (socket, req) => {
      const stream = createWebSocketStream(socket);
      stream.on('error', () => socket.terminate());
      if (!handle(stream, req, req.socket)) socket.terminate();
    });
    return {
      wss,
      close: async () => {
        for (const c of wss.clients) c.terminate();
        await new Promise<void>((r) => wss.close(() => r()));
      },
    };
  };

  const servers: Array<{ close: () => Promise<void> }> = [];
  const urls: { mqtt?: string; ws?: string } = {};
  // upgrades handed over by the hub's HTTP server (no listener of its own)
  const upgrades = webSocketServer({ noServer: true });
  servers.push({ close: upgrades.close });
  try {
    if (options.mqtt) {
      const tcp = createNetServer((socket) => {
        socket.setNoDelay(true);
        if (!handle(coalesceWrites(socket))) socket.destroy();
      });
      urls.mqtt = `mqtt://${await listen(tcp, options.mqtt, 'mqtt address')}`;
      servers.push({ close: () => closeServer(tcp) });
    }
    if (options.ws) {
      const http = createHttpServer((_req, res) => {
        res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket only\n');
      });
      const wss = webSocketServer({ server: http });
      urls.ws = `ws://${await listen(http, options.ws, 'ws address')}`;
      servers.push({
        close: async () => {
          await wss.close();
          await closeServer(http);
        },
      });
    }
  } catch (err) {
    await Promise.all(servers.map((s) => s.close()));
    await new Promise<void>((r) => aedes.close(() => r()));
    throw err;
  }

  const bus: Bus = {
    publish(topic: string, payload: Uint8Array | string, o: PublishOptions = {}) {
      return new Promise((resolve, reject) => {
        const buf = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
        aedes.publish(
          { cmd: 'publish', topic, payload: buf, qos: o.qos ?? 1, retain: o.retain ?? false, dup: false },
          (err?: Error) => (err ? reject(err) : resolve()),
        );
      });
    },
    subscribe(filter: string, handler: MessageHandler) {
      hubHandlers.push({ filter: filter.split('/'), handler });
      matching.clear();
      return new Promise((resolve) => {
        aedes.subscribe(
          filter,
          (packet, cb) => {
            // a client's message reached the handler in authorizePublish already; this is the broker's own
            // (the hub's publishes, e.g. a cleared retained report): nobody waits for its acknowledgement
            if ((packet as { clientId?: string }).clientId !== undefined) return cb();
            try {
              void Promise.resolve(handler(packet.topic, packet.payload as Buffer)).catch(() => undefined);
            } finally {
              cb();
            }
          },
          () => resolve(),
        );
      });
    },
    disconnect(clientId: string) {
      const clients = (aedes as unknown as { clients: Record<string, { close: () => void } | undefined> }).clients;
      clients[clientId]?.close();
    },
    async close() {
      await new Promise<void>((r) => aedes.close(() => r()));
      await Promise.all(servers.map((s) => s.close()));
    },
  };
  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgrades.wss.handleUpgrade(req, socket, head, (ws) => upgrades.wss.emit('connection', ws, req));
  };
  return { bus, urls, connectedClients: () => aedes.connectedClients, pending: () => preAuth.stats(), unacked: () => held, multicast, upgrade };
}

function closeServer(server: NetServer | HttpServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    (server as HttpServer).closeAllConnections?.();
  });
}

/** The embedded broker's gauges on the hub's /metrics. */
export function embeddedBrokerGauges(metrics: Metrics, b: EmbeddedBroker): void {
  metrics.gauge('edgefleet_mqtt_connected_clients', 'Clients connected to the embedded broker.', () => [{ labels: {}, value: b.connectedClients() }]);
  metrics.gauge('edgefleet_mqtt_pending_connections', 'Embedded broker connections not yet past CONNACK.', () => [{ labels: {}, value: b.pending().connections }]);
  metrics.gauge('edgefleet_mqtt_pending_bytes', 'Bytes sent by embedded broker connections not yet past CONNACK.', () => [{ labels: {}, value: b.pending().bytes }]);
  metrics.gauge('edgefleet_mqtt_unacked_messages', 'Device messages held unacknowledged until their commit.', () => [{ labels: {}, value: b.unacked() }]);
}
