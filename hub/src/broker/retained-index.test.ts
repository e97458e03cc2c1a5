import { createServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { indexRetained } from './retained-index.js';

const open: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of open.splice(0).reverse()) await f();
});

async function brokerWithIndex(): Promise<string> {
  const broker = await Aedes.createBroker();
  indexRetained((broker as unknown as { persistence: Parameters<typeof indexRetained>[0] }).persistence);
  const server = createServer((s) => broker.handle(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  open.push(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await new Promise<void>((r) => broker.close(() => r()));
  });
  return `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function client(url: string, id: string): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, { clientId: id, reconnectPeriod: 0 });
  open.push(() => c.endAsync(true));
  return c;
}

/** Retained messages a fresh subscription to `filters` hands over: waits for `expected` of them, then one round trip for any extra. */
async function retainedFor(url: string, id: string, filters: string[], expected: number): Promise<string[]> {
  const c = await client(url, id);
  const got: string[] = [];
  c.on('message', (topic, payload, packet) => {
    if (packet.retain) got.push(`${topic}=${payload.toString()}`);
  });
  await c.subscribeAsync(filters, { qos: 1 });
  await vi.waitFor(() => expect(got.length).toBeGreaterThanOrEqual(expected), { timeout: 20_000 });
  // a round trip after the SUBACK: whatever was retained has been delivered by then
  await c.publishAsync(`probe/${id}`, 'x', { qos: 1 });
  return got.sort();
}

describe('indexRetained', () => {
  it('hands a subscription to exact topics their retained messages, and wildcard filters all that match', async () => {
    const url = await brokerWithIndex();
    const pub = await client(url, 'pub');
    await pub.publishAsync('d/1/desired', 'one', { qos: 1, retain: true });
    await pub.publishAsync('d/2/desired', 'two', { qos: 1, retain: true });
    await pub.publishAsync('d/2/desired', 'two-b', { qos: 1, retain: true }); // replaces
    expect(await retainedFor(url, 's1', ['d/2/desired'], 1)).toEqual(['d/2/desired=two-b']);
    expect(await retainedFor(url, 's2', ['d/1/desired', 'd/9/desired'], 1)).toEqual(['d/1/desired=one']);
    expect(await retainedFor(url, 's3', ['d/+/desired'], 2)).toEqual(['d/1/desired=one', 'd/2/desired=two-b']);
  });

  it('forgets a retained message cleared by an empty payload', async () => {
    const url = await brokerWithIndex();
    const pub = await client(url, 'pub');
    await pub.publishAsync('d/1/desired', 'one', { qos: 1, retain: true });
    await pub.publishAsync('d/1/desired', '', { qos: 1, retain: true });
    expect(await retainedFor(url, 's1', ['d/1/desired'], 0)).toEqual([]);
    expect(await retainedFor(url, 's2', ['d/#'], 0)).toEqual([]);
  });
});
