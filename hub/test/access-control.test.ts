// Broker access control of design §4 against the embedded aedes with real mqtt.js clients.
import net from 'node:net';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { LIMITS, topics } from '@edgefleet/protocol';
import type { Hub } from '@edgefleet/hub';
import { apiClient, connectDevice, endClient, startTestHub, tempDir, waitFor } from './helpers.js';

describe('broker access control (design §4)', () => {
  let hub: Hub;
  let dir: ReturnType<typeof tempDir>;
  let api: ReturnType<typeof apiClient>;
  const tokens: Record<string, string> = {};
  const clients: MqttClient[] = [];

  const connect = async (id: string, password = tokens[id]!, extra = {}) => {
    const c = await connectDevice(hub.urls.mqtt!, id, password, extra);
    clients.push(c);
    return c;
  };
  const refusal = (id: string, password: string, extra = {}) =>
    connectDevice(hub.urls.mqtt!, id, password, extra).then(
      (c) => {
        clients.push(c);
        return 'connected';
      },
      (err: Error & { code?: number }) => err.code ?? err.message,
    );

  beforeAll(async () => {
    dir = tempDir();
    hub = await startTestHub(dir.path);
    api = apiClient(hub.urls.http, hub.adminToken);
    for (const id of ['dev-a', 'dev-b', 'dev-gone']) {
      const r = await api.post('/devices', { id });
      tokens[id] = r.body.token;
    }
  });
  afterAll(async () => {
    await Promise.all(clients.map(endClient));
    await hub.close();
    dir.remove();
  });

  it('lets a device subscribe to the keyring and its own hub → device topics only', async () => {
    const a = await connect('dev-a');
    const own = await a.subscribeAsync([topics.keyring(), topics.desired('dev-a'), topics.command('dev-a'), topics.artifactData('dev-a')], { qos: 1 });
    expect(own.map((g) => g.qos)).toEqual([1, 1, 1, 1]);
    // mqtt.js rejects a SUBACK carrying 0x80 (refused); the connection stays up
    for (const f of [topics.desired('dev-b'), topics.artifactData('dev-b'), 'ef/v1/devices/+/desired', '#', 'ef/v1/#', topics.telemetry('dev-a'), topics.reported('dev-a')]) {
      await expect(a.subscribeAsync(f, { qos: 1 }), f).rejects.toThrow(/Subscribe error/);
    }
    expect(a.connected).toBe(true);
    expect(hub.metrics.get('edgefleet_mqtt_connections_refused_total', { reason: 'subscribe_denied' })).toBe(7);
  });

  it('closes a device that publishes to another device’s topic or to a hub → device topic', async () => {
    for (const topic of [topics.reported('dev-b'), topics.telemetry('dev-b'), topics.desired('dev-a'), topics.command('dev-a'), topics.keyring(), topics.artifactData('dev-a')]) {
      const a = await connect('dev-a');
      const closed = new Promise<void>((r) => a.once('close', () => r()));
      a.publish(topic, JSON.stringify({ evil: true }), { qos: 1 });
      await closed;
    }
    // nothing reached the registry on dev-b's behalf
    const b = await api.get('/devices/dev-b');
    expect(b.body.device.reported).toBeNull();
    expect(hub.metrics.get('edgefleet_mqtt_connections_refused_total', { reason: 'publish_denied' })).toBeGreaterThanOrEqual(6);
  });

  it('refuses a wrong password, an unknown device and a removed device', async () => {
    expect(await refusal('dev-a', 'not-the-token-at-all')).toBe(4);
    expect(await refusal('dev-nobody', tokens['dev-a']!)).toBe(4);
    const gone = await connect('dev-gone');
    const kicked = new Promise<void>((r) => gone.once('close', () => r()));
    expect((await api.del('/devices/dev-gone')).status).toBe(200);
    await kicked; // removal revokes at once: the live connection is dropped
    expect(await refusal('dev-gone', tokens['dev-gone']!)).toBe(4);
  });

  it('refuses client ids with +, # or / and client ids that differ from the username', async () => {
    for (const clientId of ['dev-a+', 'dev-#', 'dev/a']) {
      expect(await refusal('dev-a', tokens['dev-a']!, { clientId })).toBe(2);
    }
    expect(await refusal('dev-a', tokens['dev-a']!, { clientId: 'dev-b' })).toBe(2);
  });

  it('cuts a connection whose packet header announces more than the cap, before buffering it, and others keep working', async () => {
    const b = await connect('dev-b');
    const before = hub.metrics.get('edgefleet_rejected_messages_total', { reason: 'TOO_LARGE', topic: 'mqtt' });
    const { port } = new URL(hub.urls.mqtt!);
    const sock = net.connect(Number(port), '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    // PUBLISH (QoS 0) announcing 200 MiB; remaining length as an MQTT varint
    const announce = 200 * 1024 * 1024;
    const varint: number[] = [];
    for (let x = announce; ; ) {
      let byte = x % 128;
      x = Math.floor(x / 128);
      if (x > 0) byte |= 0x80;
      varint.push(byte);
      if (x === 0) break;
    }
    let written = 0;
    let closed = false;
    sock.on('error', () => undefined);
    sock.once('close', () => (closed = true));
    sock.write(Buffer.from([0x30, ...varint]));
    const chunk = Buffer.alloc(64 * 1024, 0x41);
    while (!closed && written < 64 * 1024 * 1024) {
      if (!sock.write(chunk)) await new Promise((r) => setTimeout(r, 5));
      written += chunk.length;
      await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => closed, 'oversized connection closed');
    // the hub refused at the header: far less than the announced packet (or even the cap) was accepted
    expect(written).toBeLessThan(announce);
    expect(hub.metrics.get('edgefleet_rejected_messages_total', { reason: 'TOO_LARGE', topic: 'mqtt' })).toBe(before + 1);
    // a device below the cap is unaffected
    expect(b.connected).toBe(true);
    const big = Buffer.alloc(LIMITS.reported + 10, 0x20); // over the reported cap, under the packet cap: dropped, not cut
    await b.publishAsync(topics.reported('dev-b'), big, { qos: 1 });
    expect(b.connected).toBe(true);
  });

  it('applies the same cap on MQTT over WebSocket', async () => {
    const before = hub.metrics.get('edgefleet_rejected_messages_total', { reason: 'TOO_LARGE', topic: 'mqtt' });
    const ws = new WebSocket(hub.urls.ws!, 'mqtt');
    await new Promise((r, j) => {
      ws.once('open', r);
      ws.once('error', j);
    });
    const closed = new Promise((r) => ws.once('close', r));
    ws.send(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3])); // announces ~256 MiB
    await closed;
    expect(hub.metrics.get('edgefleet_rejected_messages_total', { reason: 'TOO_LARGE', topic: 'mqtt' })).toBe(before + 1);
  });

  it('keeps no offline session for a device, so nothing queues in hub memory while it is away', async () => {
    const first = await connect('dev-b', tokens['dev-b'], { clean: false });
    await first.subscribeAsync(topics.command('dev-b'), { qos: 1 });
    await endClient(first);
    await hub.services.commands.send('dev-b', 'resync');
    const got: string[] = [];
    const again = await connect('dev-b', tokens['dev-b'], { clean: false });
    again.on('message', (t) => got.push(t));
    expect(again.connected).toBe(true);
    // a session would have been present, with the command queued in it
    await again.subscribeAsync(topics.keyring(), { qos: 1 });
    await waitFor(() => got.includes(topics.keyring()), 'keyring');
    expect(got).not.toContain(topics.command('dev-b'));
  });
});
