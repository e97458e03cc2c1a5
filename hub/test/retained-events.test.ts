// Device events are never retained (design §4): a retained event a device publishes is ingested and
// notified once, not again on every hub start, with a real Mosquitto in `--broker` mode (which cannot
// refuse the retain flag per topic) and with the embedded broker (whose policy strips it).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { startHub, type Hub } from '@edgefleet/hub';
import { topics } from '@edgefleet/protocol';
import { createBrokerPolicy } from '../src/broker/policy.js';
import { apiClient, connectDevice, endClient, tempDir, waitFor } from './helpers.js';
import { startReceiver } from './webhooks-support.js';
import { MOSQUITTO, startMosquitto } from './processes.js';

const HUB_PASSWORD = 'hub-secret-for-tests-only';

const rolledBack = () => JSON.stringify({ type: 'rolled-back', model: 'vib', version: '2.0.0', code: 'PROBATION_FAILED', message: 'error rate over the limit', at: new Date().toISOString() });
const storedEvents = async (hub: Hub, id: string) => (await hub.services.ctx.store.eventsForDevice(id)) as Array<{ type: string }>;

describe.skipIf(!existsSync(MOSQUITTO))('retained device events with Mosquitto (--broker)', () => {
  it('ingests and notifies a retained event once, not again when the hub restarts, and clears it on the broker', async () => {
    const dir = tempDir('edgefleet-retained-');
    const mosquitto = await startMosquitto(dir.path, HUB_PASSWORD);
    const receiver = await startReceiver();
    const brokerUrl = mosquitto.hubUrl;
    const start = () =>
      startHub({ dataDir: join(dir.path, 'hub'), http: '127.0.0.1:0', broker: brokerUrl, mosquittoPasswordFile: mosquitto.passwd, mosquittoPidFile: mosquitto.pidFile, webhooks: [receiver.url], alarms: false });
    let hub: Hub | undefined;
    let device: MqttClient | undefined;
    let probe: MqttClient | undefined;
    try {
      hub = await start();
      const token = (await apiClient(hub.urls.http, hub.adminToken).post('/devices', { id: 'dev-ret' })).body.token as string;
      const url = `mqtt://127.0.0.1:${mosquitto.port}`;
      device = await waitFor(() => connectDevice(url, 'dev-ret', token).catch(() => null), 'dev-ret connects');
      await device.publishAsync(topics.events('dev-ret'), rolledBack(), { qos: 1, retain: true });
      await waitFor(async () => {
        await hub!.flush();
        return (await storedEvents(hub!, 'dev-ret')).length === 1;
      }, 'the event stored');
      await receiver.waitFor(1, 'device-rolled-back');

      await hub.close();
      hub = await start();
      // the hub subscribed again at start (the broker hands retained copies over then); an event sent after
      // that arrives after any retained one
      await device.publishAsync(topics.events('dev-ret'), JSON.stringify({ type: 'activated', message: 'after restart', at: new Date().toISOString() }), { qos: 1 });
      await waitFor(async () => {
        await hub!.flush();
        return (await storedEvents(hub!, 'dev-ret')).some((e) => e.type === 'activated');
      }, 'the later event stored');
      expect((await storedEvents(hub, 'dev-ret')).map((e) => e.type)).toEqual(['activated', 'rolled-back']);
      await hub.services.notifier.idle();
      expect(receiver.received.filter((r) => r.body.event === 'device-rolled-back')).toHaveLength(1);
      await hub.close();
      hub = undefined;

      // nothing retained is left on the broker's events topic: the retained keyring, subscribed after it, comes alone
      probe = await connectDevice(url, 'edgefleet_hub', HUB_PASSWORD, { clean: true });
      const got: string[] = [];
      probe.on('message', (t, payload) => {
        if (payload.length > 0) got.push(t);
      });
      await probe.subscribeAsync(topics.events('dev-ret'), { qos: 1 });
      await probe.subscribeAsync(topics.keyring(), { qos: 1 });
      await waitFor(() => got.includes(topics.keyring()), 'the retained keyring');
      expect(got).toEqual([topics.keyring()]);
    } finally {
      await endClient(probe);
      await endClient(device);
      await hub?.close();
      await receiver.close();
      await mosquitto.stop();
      dir.remove();
    }
  });
});

describe('retained device events with the embedded broker', () => {
  it('strips the retain flag from a device’s events and telemetry, and keeps it on its reported state', () => {
    const policy = createBrokerPolicy({ checkDevice: async () => true, onRefused: () => undefined });
    const client = { id: 'dev-e' } as never;
    const publish = (topic: string) => {
      const packet = { cmd: 'publish', topic, payload: Buffer.from('{}'), qos: 1, retain: true, dup: false } as { retain: boolean };
      let refused: unknown = 'not called';
      policy.authorizePublish!(client, packet as never, (err) => (refused = err));
      expect(refused).toBeNull();
      return packet.retain;
    };
    expect(publish(topics.events('dev-e'))).toBe(false);
    expect(publish(topics.telemetry('dev-e'))).toBe(false);
    expect(publish(topics.reported('dev-e'))).toBe(true);
    expect(publish(topics.status('dev-e'))).toBe(true);
  });
});
