// The embedded broker (design §4): aedes on TCP and on WebSocket, the access policy of §4, a packet-size
// cap on every connection, and an in-process Bus for the hub itself (no network client, full rights).

import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { Aedes } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { LIMITS, parseTopic } from '@edgefleet/protocol';
import { coalesceWrites, guardPacketSize } from './packet-limit.js';
import { createBrokerPolicy, type BrokerPolicyOptions } from './policy.js';
import { dialHost, parseHostPort } from './address.js';
import { createMulticastRegistry, type MulticastSubscribers } from './multicast.js';
import type { Bus, MessageHandler, PublishOptions } from './bus.js';

export interface EmbeddedBrokerOptions extends BrokerPolicyOptions {
  mqtt?: string | null;
  ws?: string | null;
  maxPacketBytes?: number;
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
  /** Devices listening on artifact multicast topics (design §4), for the chunk server. */
  multicast: MulticastSubscribers;
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

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const maxPacket = options.maxPacketBytes ?? LIMITS.mqttPacket;
  const aedes = await Aedes.createBroker({
    ...createBrokerPolicy(options),
    maxClientsIdLength: 128,
    // a slow device must not hold hub memory for a minute
    drainTimeout: 30_000,
  });
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
  const cut = () => options.onOversize?.();

  const servers: Array<{ close: () => Promise<void> }> = [];
  const urls: { mqtt?: string; ws?: string } = {};
  try {
    if (options.mqtt) {
      const tcp = createNetServer((socket) => {
        socket.setNoDelay(true);
        aedes.handle(coalesceWrites(guardPacketSize(socket, maxPacket, cut)));
      });
      urls.mqtt = `mqtt://${await listen(tcp, options.mqtt, 'mqtt address')}`;
      servers.push({ close: () => closeServer(tcp) });
    }
    if (options.ws) {
      const http = createHttpServer((_req, res) => {
        res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket only\n');
      });
      // ws buffers a whole frame before we see it: cap frames at the packet limit too
      const wss = new WebSocketServer({ server: http, maxPayload: maxPacket + 8 });
      wss.on('connection', (socket, req) => {
        const stream = createWebSocketStream(socket);
        stream.on('error', () => socket.terminate());
        aedes.handle(guardPacketSize(stream, maxPacket, cut), req);
      });
      urls.ws = `ws://${await listen(http, options.ws, 'ws address')}`;
      servers.push({
        close: async () => {
          for (const c of wss.clients) c.terminate();
          await new Promise<void>((r) => wss.close(() => r()));
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
      return new Promise((resolve) => {
        aedes.subscribe(
          filter,
          (packet, cb) => {
            try {
              handler(packet.topic, packet.payload as Buffer);
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
  return { bus, urls, connectedClients: () => aedes.connectedClients, multicast };
}

function closeServer(server: NetServer | HttpServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    (server as HttpServer).closeAllConnections?.();
  });
}
