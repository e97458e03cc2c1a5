// Connections that have not authenticated hold little (design §4: one client cannot exhaust the hub's
// memory): small packets only before CONNACK, a global cap on pending connections and on their bytes.
// Raw TCP sockets against a real embedded hub.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Hub } from '@edgefleet/hub';
import { apiClient, connectDevice, endClient, startTestHub, tempDir, waitFor } from './helpers.js';

/** The fixed header of a CONNECT announcing `length` bytes (MQTT 3.1.1 §2.2.3). */
function connectHeader(length: number): Buffer {
  const out = [0x10];
  for (let x = length; ; ) {
    let b = x % 128;
    x = Math.floor(x / 128);
    if (x > 0) b |= 0x80;
    out.push(b);
    if (x === 0) return Buffer.from(out);
  }
}

interface Probe {
  socket: net.Socket;
  closed: Promise<void>;
  isClosed(): boolean;
}

function open(url: string): Promise<Probe> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    let closed = false;
    const socket = net.connect(Number(port), hostname, () => resolve({ socket, closed: done, isClosed: () => closed }));
    const done = new Promise<void>((r) => socket.once('close', () => ((closed = true), r())));
    socket.on('error', () => undefined);
    socket.once('error', reject);
  });
}

/** Write an unfinished CONNECT announcing `announced` bytes: its header and `body` bytes of it, in 64 KiB writes. */
async function unfinishedConnect(p: Probe, announced: number, body: number): Promise<void> {
  p.socket.write(connectHeader(announced));
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  for (let sent = 0; sent < body && !p.isClosed(); sent += chunk.length) {
    const ok = p.socket.write(chunk.subarray(0, Math.min(chunk.length, body - sent)));
    if (!ok) await Promise.race([new Promise((r) => p.socket.once('drain', r)), p.closed]);
  }
}

describe('MQTT before CONNACK', () => {
  let hub: Hub | undefined;
  let dir: ReturnType<typeof tempDir> | undefined;
  const probes: Probe[] = [];
  afterEach(async () => {
    for (const p of probes.splice(0)) p.socket.destroy();
    await hub?.close();
    dir?.remove();
    hub = dir = undefined;
  });

  const device = async (id: string) => {
    const api = apiClient(hub!.urls.http, hub!.adminToken);
    return (await api.post('/devices', { id })).body.token as string;
  };

  it('cuts an unfinished CONNECT larger than the pre-auth packet cap, while a device still connects', async () => {
    dir = tempDir();
    hub = await startTestHub(dir.path);
    const token = await device('dev-pa');
    // 60 sockets each sending a CONNECT of almost 3 MiB (under the packet cap of devices) and never its end
    for (let i = 0; i < 60; i++) probes.push(await open(hub.urls.mqtt!));
    const writes = probes.map((p) => unfinishedConnect(p, 3 * 1024 * 1024 - 16, 3 * 1024 * 1024 - 32));
    const c = await connectDevice(hub.urls.mqtt!, 'dev-pa', token);
    await endClient(c);
    await Promise.all(writes);
    await waitFor(() => probes.every((p) => p.isClosed()), 'every unfinished CONNECT cut by the hub', 5_000);
    expect(hub.metrics.get('edgefleet_rejected_messages_total', { reason: 'TOO_LARGE', topic: 'mqtt' })).toBe(60);
    await waitFor(() => hub!.metrics.render().includes('edgefleet_mqtt_pending_connections 0'), 'no pending connection left');
  });

  it('cuts a WebSocket whose unauthenticated bytes pass the budget before ws has buffered its frame', async () => {
    dir = tempDir();
    hub = await startTestHub(dir.path);
    const ws = new WebSocket(hub.urls.ws!, 'mqtt');
    ws.on('error', () => undefined);
    await new Promise((r) => ws.once('open', r));
    const closed = new Promise((r) => ws.once('close', r));
    // one frame of 2 MiB: a CONNECT header under the devices' packet cap and most of its body
    const frame = Buffer.alloc(2 * 1024 * 1024, 0x61);
    connectHeader(3 * 1024 * 1024 - 16).copy(frame);
    ws.send(frame);
    await closed;
    expect(hub.metrics.get('edgefleet_mqtt_connections_refused_total', { reason: 'pre_auth_bytes' })).toBe(1);
    await waitFor(() => hub!.metrics.render().includes('edgefleet_mqtt_pending_bytes 0'), 'its bytes released');
  });

  it('refuses a connection beyond the pending cap and cuts pending connections past the byte budget', async () => {
    dir = tempDir();
    hub = await startTestHub(dir.path, { mqttLimits: { preAuth: { maxConnections: 8, connectionBytes: 64 * 1024, totalBytes: 256 * 1024 } } });
    const token = await device('dev-pb');
    const refused = (reason: string) => hub!.metrics.get('edgefleet_mqtt_connections_refused_total', { reason });
    // eight connections that sent nothing yet: the ninth is closed at once
    for (let i = 0; i < 8; i++) probes.push(await open(hub.urls.mqtt!));
    await waitFor(() => hub!.metrics.render().includes('edgefleet_mqtt_pending_connections 8'), 'eight pending connections');
    const ninth = await open(hub.urls.mqtt!);
    await ninth.closed;
    expect(refused('pending_limit')).toBe(1);
    await expect(connectDevice(hub.urls.mqtt!, 'dev-pb', token)).rejects.toThrow();
    // each sends 48 KiB of a CONNECT under the 64 KiB cap: together past the 256 KiB budget, some are cut
    await Promise.all(probes.map((p) => unfinishedConnect(p, 60 * 1024, 48 * 1024)));
    await waitFor(() => refused('pre_auth_bytes') >= 3, 'connections past the byte budget cut');
    const pendingBytes = Number(/edgefleet_mqtt_pending_bytes (\d+)/.exec(hub.metrics.render())?.[1]);
    expect(pendingBytes).toBeLessThanOrEqual(256 * 1024);
    // the budget is released with the connections: a device connects again
    for (const p of probes.splice(0)) p.socket.destroy();
    const c = await waitFor(() => connectDevice(hub!.urls.mqtt!, 'dev-pb', token).catch(() => null), 'device connects');
    await endClient(c);
  });
});
