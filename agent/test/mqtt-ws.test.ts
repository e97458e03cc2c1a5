// The shared MQTT transport (`@edgefleet/agent/mqtt`) over WebSocket, as a browser device uses it: a real
// hub's embedded broker on its ws listener, a device's own credentials, bytes in and out as Uint8Array.

import { afterEach, describe, expect, it } from 'vitest';
import { startHub, type Hub } from '@edgefleet/hub';
import { createMqttTransport, type MqttTransport } from '@edgefleet/agent/mqtt';
import { topics, utf8Decode, utf8Encode } from '@edgefleet/protocol';
import { tmpDir } from './support/fleet-harness.js';
import { hubApi } from './support/hub-api.js';

const hubs: Hub[] = [];
const transports: MqttTransport[] = [];
afterEach(async () => {
  for (const t of transports.splice(0)) await t.close();
  for (const h of hubs.splice(0)) await h.close();
});

async function until<T>(probe: () => Promise<T | undefined> | T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('mqtt transport over WebSocket', () => {
  it("connects to the hub's ws listener as a device, receives its messages as Uint8Array and publishes bytes", async () => {
    const hub = await startHub({ dataDir: tmpDir('ef-hub-'), http: '127.0.0.1:0', mqtt: '127.0.0.1:0', ws: '127.0.0.1:0' });
    hubs.push(hub);
    expect(hub.urls.ws).toMatch(/^ws:\/\//);
    const api = hubApi(hub);
    const added = await api.post('/devices', { id: 'dev-ws', tags: {} });
    expect(added.status).toBe(201);
    const config = added.body.agentConfig;

    const transport = createMqttTransport({
      urls: [hub.urls.ws!],
      clientId: config.deviceId,
      username: config.username,
      password: config.password,
      will: { topic: topics.status('dev-ws'), payload: 'offline', retain: true, qos: 1 },
      backoff: { initialMs: 50, maxMs: 200 },
    });
    transports.push(transport);
    const received: Array<{ topic: string; payload: Uint8Array }> = [];
    transport.onMessage((topic, payload) => received.push({ topic, payload }));
    const connected = new Promise<void>((resolve) => transport.onConnect(resolve));
    transport.connect();
    await connected;
    expect(transport.connected).toBe(true);

    // the hub's retained keyring arrives as plain Uint8Array bytes (a view, not a Buffer)
    const outcome = await transport.subscribe([topics.keyring(), topics.command('dev-ws'), topics.command('someone-else')]);
    expect(outcome.map((o) => o.ok)).toEqual([true, true, false]); // the broker's ACL still applies over ws
    const keyring = await until(() => received.find((m) => m.topic === topics.keyring()), 'the keyring');
    expect(Object.getPrototypeOf(keyring.payload)).toBe(Uint8Array.prototype);
    expect(JSON.parse(utf8Decode(keyring.payload))).toBeTypeOf('object');

    // bytes out, as Uint8Array and as string (QoS 1: resolved on the broker's PUBACK); the hub stores both events
    const event = (message: string) => JSON.stringify({ type: 'error', message, at: new Date().toISOString() });
    await transport.publish(topics.events('dev-ws'), utf8Encode(event('bytes over ws')), { qos: 1 });
    await transport.publish(topics.events('dev-ws'), event('text over ws'), { qos: 1 });
    const events = await until(async () => {
      const list: Array<{ message: string }> = (await api.get('/devices/dev-ws')).body.events ?? [];
      return list.length >= 2 ? list.map((e) => e.message).sort() : undefined;
    }, 'the hub to store both events');
    expect(events).toEqual(['bytes over ws', 'text over ws']);
    await transport.close();
    expect(transport.connected).toBe(false);
  });
});
