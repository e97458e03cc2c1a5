// MQTT over WebSocket on the hub's HTTP port (design §4, issue 12): an upgrade on `/mqtt` is handed to the
// embedded broker through the same guards as its ws listener, so a browser device needs one origin and an
// HTTPS hub (behind a TLS proxy) gives wss:// for free. Every other upgrade is refused and its socket closed;
// with `--broker` there is no aedes here, so `/mqtt` is refused too (devices use the external broker).

import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorCode } from '@edgefleet/protocol';
import type { EmbeddedBroker } from './embedded.js';

export const MQTT_WS_PATH = '/mqtt';

/** The URL a browser device dials for `/mqtt`: the hub's public (or bound) HTTP URL with ws:// or wss://. */
export function mqttWebSocketUrl(httpUrl: string): string {
  const u = new URL(httpUrl);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.pathname = `${u.pathname.replace(/\/+$/, '')}${MQTT_WS_PATH}`;
  u.search = '';
  u.hash = '';
  return u.toString();
}

function refuse(socket: Duplex, status: number, code: ErrorCode, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  const reason = status === 404 ? 'Not Found' : 'Bad Request';
  if (socket.writable) {
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.once('finish', () => socket.destroy());
  socket.on('error', () => socket.destroy());
}

/**
 * Route the HTTP server's upgrades: `/mqtt` to the embedded broker (null in `--broker` mode: refused),
 * anything else NOT_FOUND. `onRefused` counts refusals by reason.
 */
export function attachMqttUpgrade(server: Server, broker: EmbeddedBroker | null, onRefused: (reason: string) => void = () => undefined): void {
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== MQTT_WS_PATH) {
      onRefused('upgrade_path');
      return refuse(socket, 404, 'NOT_FOUND', `no WebSocket at ${JSON.stringify(path)}: MQTT over WebSocket is at ${MQTT_WS_PATH}`);
    }
    if (!broker) {
      onRefused('upgrade_external_broker');
      return refuse(socket, 404, 'NOT_FOUND', `this hub uses an external broker (--broker): connect MQTT over WebSocket to that broker, not to ${MQTT_WS_PATH}`);
    }
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      onRefused('upgrade_protocol');
      return refuse(socket, 400, 'BAD_INPUT', `${MQTT_WS_PATH} speaks MQTT over WebSocket only`);
    }
    broker.upgrade(req, socket, head);
  });
}
