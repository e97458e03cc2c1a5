// One device flooding the hub (design §4: one client cannot exhaust the hub; §7 store and webhooks),
// through a real hub, a real MQTT device client and a real local HTTP webhook receiver that fails:
// per-device rate limits, a per-device cap and retention on stored events, repeats stored once, and
// fleet-level alerts that a storm of device-level webhook events cannot crowd out.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { createWindow, topics } from '@edgefleet/protocol';
import type { Hub, HubOptions } from '@edgefleet/hub';
import { openStore } from '../src/store/db.js';
import { createNotifier } from '../src/notify/index.js';
import { apiClient, connectDevice, endClient, hubDb, startTestHub, tempDir, waitFor } from './helpers.js';
import { startReceiver, type Receiver } from './webhooks-support.js';

const PAD = 'x'.repeat(2000); // events of ≈ 2 KB, as in the flood that filled a disk
/** `n` events published as fast as the client can write them (QoS 0), in slices that keep its listeners bounded. */
async function flood(client: MqttClient, topic: string, n: number, body: (i: number) => string): Promise<void> {
  for (let i = 0; i < n; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, n - i) }, (_, k) => client.publishAsync(topic, body(i + k), { qos: 0 })));
  }
}
const event = (i: number, type = 'error') => JSON.stringify({ type, model: 'vib', version: '2.0.0', code: 'INFERENCE_FAILED', message: `#${i} ${PAD}`, at: new Date().toISOString() });

describe('a device flooding the hub', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const f of cleanups.splice(0).reverse()) await f();
  });

  async function hubWithDevice(dataDir: string, id: string, extra: Partial<HubOptions> = {}): Promise<{ hub: Hub; client: MqttClient }> {
    const hub = await startTestHub(dataDir, { ws: null, alarms: false, ...extra });
    cleanups.push(() => hub.close());
    const token = (await apiClient(hub.urls.http, hub.adminToken).post('/devices', { id })).body.token as string;
    const client = await connectDevice(hub.urls.mqtt!, id, token);
    cleanups.push(() => endClient(client));
    return { hub, client };
  }
  const storedEvents = (hub: Hub, id: string) =>
    (hubDb(hub).prepare('SELECT COUNT(*) AS n FROM events WHERE device_id = ?').get(id) as { n: number }).n;
  const dbBytes = (dataDir: string) => ['hub.db', 'hub.db-wal'].reduce((n, f) => n + (statSync(join(dataDir, f), { throwIfNoEntry: false })?.size ?? 0), 0);

  it('refuses events beyond the device’s rate limit, counted RATE_LIMITED, and stores none of them', async () => {
    const dir = tempDir('edgefleet-flood-');
    cleanups.push(() => dir.remove());
    const { hub, client } = await hubWithDevice(dir.path, 'dev-flood'); // the default limits
    const before = dbBytes(dir.path);
    const sent = 3000;
    const started = Date.now();
    await flood(client, topics.events('dev-flood'), sent, (i) => event(i));
    const limited = () => hub.metrics.get('edgefleet_rejected_messages_total', { reason: 'RATE_LIMITED', topic: 'events' });
    await waitFor(async () => {
      await hub.flush();
      return storedEvents(hub, 'dev-flood') + limited() === sent;
    }, 'every event stored or refused');
    const elapsedS = (Date.now() - started) / 1000;
    const stored = storedEvents(hub, 'dev-flood');
    // the default bucket: a burst of 300, then 1 per second
    expect(stored).toBeGreaterThanOrEqual(300);
    expect(stored).toBeLessThanOrEqual(300 + Math.ceil(elapsedS) + 1);
    expect(limited()).toBe(sent - stored);
    expect(hub.metrics.get('edgefleet_events_total')).toBe(stored);
    // the database grows by what the burst let in (≈ 1.3 MB with its WAL), not by what was sent (6 MB)
    expect(dbBytes(dir.path) - before).toBeLessThan(3_000_000);
    const metrics = await (await fetch(`${hub.urls.http}/metrics`)).text();
    expect(metrics).toMatch(/edgefleet_rejected_messages_total\{reason="RATE_LIMITED",topic="events"\} \d+/);
  });

  it('refuses telemetry beyond a configured per-device limit and stores none of it', async () => {
    const dir = tempDir('edgefleet-flood-telemetry-');
    cleanups.push(() => dir.remove());
    const { hub, client } = await hubWithDevice(dir.path, 'dev-tele', { deviceRateLimits: { telemetry: { burst: 5, perSecond: 0 } } });
    const start = Math.floor(Date.now() / 60_000) * 60_000;
    const w = createWindow('tiny', '1.0.0', 'active', start, start + 60_000);
    for (let seq = 1; seq <= 12; seq++) await client.publishAsync(topics.telemetry('dev-tele'), JSON.stringify({ deviceId: 'dev-tele', seq, windows: [w], dropped: 0 }), { qos: 1 });
    const limited = () => hub.metrics.get('edgefleet_rejected_messages_total', { reason: 'RATE_LIMITED', topic: 'telemetry' });
    await waitFor(async () => {
      await hub.flush();
      return hub.metrics.get('edgefleet_telemetry_batches_total') + limited() === 12;
    }, 'every batch stored or refused');
    expect(limited()).toBe(7);
    const rows = hubDb(hub).prepare('SELECT seq FROM telemetry_batches WHERE device_id = ? ORDER BY seq').all('dev-tele') as Array<{ seq: number }>;
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  it('keeps only the newest events per device when a device sends within its rate', async () => {
    const dir = tempDir('edgefleet-flood-cap-');
    cleanups.push(() => dir.remove());
    const { hub, client } = await hubWithDevice(dir.path, 'dev-cap', { deviceRateLimits: { events: false }, eventsPerDevice: 50 });
    for (let i = 0; i < 200; i++) await client.publishAsync(topics.events('dev-cap'), event(i), { qos: 1 });
    await waitFor(async () => {
      await hub.flush();
      return hub.metrics.get('edgefleet_events_total') === 200;
    }, 'all 200 events ingested');
    expect(storedEvents(hub, 'dev-cap')).toBe(50);
    const events = (await apiClient(hub.urls.http, hub.adminToken).get('/devices/dev-cap')).body.events as Array<{ message: string }>;
    expect(events[0]!.message.startsWith('#199 ')).toBe(true);
    expect(events.at(-1)!.message.startsWith('#150 ')).toBe(true);
  });

  it('deletes events older than the retention period at the hub’s upkeep, and keeps younger ones', async () => {
    const dir = tempDir('edgefleet-flood-retention-');
    cleanups.push(() => dir.remove());
    let { hub, client } = await hubWithDevice(dir.path, 'dev-old');
    for (let i = 0; i < 5; i++) await client.publishAsync(topics.events('dev-old'), event(i), { qos: 1 });
    await waitFor(async () => {
      await hub.flush();
      return storedEvents(hub, 'dev-old') === 5;
    }, 'events stored');
    await endClient(client);
    await hub.close();
    // 31 days later (a clock the hub is given): a 60-day retention keeps them, the default 30 days does not
    const later = () => new Date(Date.now() + 31 * 86_400_000);
    hub = await startTestHub(dir.path, { ws: null, alarms: false, now: later, eventRetentionDays: 60 });
    expect(storedEvents(hub, 'dev-old')).toBe(5);
    await hub.close();
    hub = await startTestHub(dir.path, { ws: null, alarms: false, now: later });
    cleanups.push(() => hub.close());
    expect(storedEvents(hub, 'dev-old')).toBe(0);
  });

  it('stores an event the device (or a broker) hands over twice once, and fires its webhook once', async () => {
    const dir = tempDir('edgefleet-flood-repeat-');
    cleanups.push(() => dir.remove());
    const receiver = await startReceiver();
    cleanups.push(() => receiver.close());
    const { hub, client } = await hubWithDevice(dir.path, 'dev-twice', { webhooks: [receiver.url] });
    const e = event(1, 'rolled-back');
    await client.publishAsync(topics.events('dev-twice'), e, { qos: 1 });
    await client.publishAsync(topics.events('dev-twice'), e, { qos: 1, retain: true });
    await client.publishAsync(topics.events('dev-twice'), event(2, 'activated'), { qos: 1 });
    await waitFor(async () => {
      await hub.flush();
      return ((await hub.services.ctx.store.eventsForDevice('dev-twice')) as Array<{ type: string }>).some((x) => x.type === 'activated');
    }, 'the event after the repeat stored');
    expect(storedEvents(hub, 'dev-twice')).toBe(2);
    expect(hub.metrics.get('edgefleet_event_duplicates_total')).toBe(1);
    await hub.services.notifier.idle();
    expect(receiver.received.filter((r) => r.body.event === 'device-rolled-back')).toHaveLength(1);
  });

  it('delivers gate and drift alerts while one device’s rollbacks flood a failing receiver', async () => {
    const dir = tempDir('edgefleet-flood-webhooks-');
    cleanups.push(() => dir.remove());
    const receiver: Receiver = await startReceiver();
    cleanups.push(() => receiver.close());
    receiver.script([], 500);
    const { hub, client } = await hubWithDevice(dir.path, 'dev-storm', {
      webhooks: [receiver.url],
      webhookRetry: { attempts: 5, baseMs: 2000 },
      deviceRateLimits: { events: false }, // the storm reaches the notifier whole
    });
    const sent = 3000;
    await flood(client, topics.events('dev-storm'), sent, (i) => event(i, 'rolled-back'));
    await waitFor(async () => {
      await hub.flush();
      return hub.metrics.get('edgefleet_events_total') === sent;
    }, 'every rollback ingested');
    await receiver.waitFor(1, 'device-rolled-back'); // the receiver is failing them
    receiver.script([], 200);
    const succeededFrom = receiver.received.length; // every request from here on is answered 200
    hub.services.notifier.emit('gate-failed', { id: 'r-1', wave: 1, gate: 'failureRate' });
    hub.services.notifier.emit('drift-alarm', { model: 'vib', version: '2.0.0', feature: 'f0' });
    await receiver.waitFor(1, 'gate-failed');
    await receiver.waitFor(1, 'drift-alarm');
    expect(hub.services.notifier.stats()).toMatchObject({ droppedFleet: 0, droppedDevice: 0 });
    // one pending delivery per (device, event) folds in every rollback that arrives while it waits: a
    // handful of deliveries carry all of them, each saying how many it stands for
    await waitFor(() => {
      const s = hub.services.notifier.stats();
      return s.queued + s.waiting + s.inFlight === 0;
    }, 'the retries delivered', 30_000);
    const stats = hub.services.notifier.stats();
    expect(sent - stats.coalesced).toBeLessThan(200);
    const delivered = receiver.received.slice(succeededFrom).filter((r) => r.body.event === 'device-rolled-back');
    expect(delivered).toHaveLength(sent - stats.coalesced);
    expect(delivered.reduce((n, r) => n + ((r.body.payload.occurrences as number | undefined) ?? 1), 0)).toBe(sent);
  });
});

describe('webhook queue', () => {
  it('keeps room for fleet-level alerts when many devices each send device-level events, and counts drops by class', async () => {
    const dir = tempDir('edgefleet-notifier-classes-');
    const store = await openStore(join(dir.path, 'hub.db'));
    const receiver = await startReceiver();
    const notifier = createNotifier({ store: store.webhooks, urls: [receiver.url], secret: 's', maxQueue: 40, concurrency: 1 });
    await notifier.ready(); // the receivers added through the API are read once before emit() sends at once
    try {
      for (let i = 0; i < 100; i++) notifier.emit('device-rolled-back', { deviceId: `d-${i}`, message: 'probation failed' });
      for (let i = 0; i < 5; i++) notifier.emit('gate-failed', { id: `r-${i}` });
      // a quarter of the queue is the fleet's: 30 device-level deliveries fit, 70 are dropped, no alert is
      expect(notifier.stats()).toMatchObject({ droppedDevice: 70, droppedFleet: 0, dropped: 70, queued: 35 });
      await notifier.idle();
      // and the alerts went first, ahead of the device events queued before them
      expect(receiver.received.slice(0, 5).map((r) => r.body.event)).toEqual(Array(5).fill('gate-failed'));
      expect(receiver.received).toHaveLength(35);
    } finally {
      await notifier.close();
      await receiver.close();
      await store.close();
      dir.remove();
    }
  });
});
