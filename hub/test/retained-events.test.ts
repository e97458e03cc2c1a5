// Device events are never retained (design §4): a retained event a device publishes is ingested and
// notified once, not again on every hub start, with a real Mosquitto in `--broker` mode (which cannot
// refuse the retain flag per topic) and with the embedded broker (whose policy strips it).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { mosquittoPasswordHash, startHub, type Hub } from '@edgefleet/hub';
import { topics } from '@edgefleet/protocol';
import { createBrokerPolicy } from '../src/broker/policy.js';
import { apiClient, connectDevice, endClient, tempDir, waitFor } from './helpers.js';
import { startReceiver } from './webhooks-support.js';

const MOSQUITTO = '/usr/sbin/mosquitto';
const ACL = fileURLToPath(new URL('../mosquitto/acl', import.meta.url));
const HUB_PASSWORD = 'hub-secret-for-tests-only';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function startMosquitto(dir: string): Promise<{ port: number; passwd: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const passwd = join(dir, 'mosquitto.passwd');
  writeFileSync(passwd, `edgefleet_hub:${mosquittoPasswordHash(HUB_PASSWORD)}\n`, { mode: 0o600 });
  const conf = join(dir, 'mosquitto.conf');
  const pid = join(dir, 'mosquitto.pid');
  writeFileSync(
    conf,
    [`listener ${port} 127.0.0.1`, 'allow_anonymous false', `password_file ${passwd}`, `acl_file ${ACL}`, 'use_username_as_clientid true', 'persistence false', `pid_file ${pid}`, 'user root', ''].join('\n'),
  );
  const broker: ChildProcess = spawn(MOSQUITTO, ['-c', conf], { stdio: 'ignore' });
  const stop = async () => {
    if (broker.exitCode !== null) return;
    const exited = new Promise((r) => broker.once('exit', r));
    broker.kill('SIGTERM');
    await exited;
  };
  try {
    await waitFor(
      () =>
        new Promise<boolean>((resolve) => {
          const s = net.connect(port, '127.0.0.1', () => {
            s.destroy();
            resolve(true);
          });
          s.on('error', () => resolve(false));
        }),
      'mosquitto listening',
    );
    await waitFor(() => existsSync(pid), 'mosquitto pid file');
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, passwd, stop };
}

const rolledBack = () => JSON.stringify({ type: 'rolled-back', model: 'vib', version: '2.0.0', code: 'PROBATION_FAILED', message: 'error rate over the limit', at: new Date().toISOString() });
const storedEvents = (hub: Hub, id: string) => hub.services.ctx.store.eventsForDevice(id) as Array<{ type: string }>;

describe.skipIf(!existsSync(MOSQUITTO))('retained device events with Mosquitto (--broker)', () => {
  it('ingests and notifies a retained event once, not again when the hub restarts, and clears it on the broker', async () => {
    const dir = tempDir('edgefleet-retained-');
    const mosquitto = await startMosquitto(dir.path);
    const receiver = await startReceiver();
    const brokerUrl = `mqtt://edgefleet_hub:${HUB_PASSWORD}@127.0.0.1:${mosquitto.port}`;
    const start = () =>
      startHub({ dataDir: join(dir.path, 'hub'), http: '127.0.0.1:0', broker: brokerUrl, mosquittoPasswordFile: mosquitto.passwd, mosquittoPidFile: join(dir.path, 'mosquitto.pid'), webhooks: [receiver.url], alarms: false });
    let hub: Hub | undefined;
    let device: MqttClient | undefined;
    let probe: MqttClient | undefined;
    try {
      hub = await start();
      const token = (await apiClient(hub.urls.http, hub.adminToken).post('/devices', { id: 'dev-ret' })).body.token as string;
      const url = `mqtt://127.0.0.1:${mosquitto.port}`;
      device = await waitFor(() => connectDevice(url, 'dev-ret', token).catch(() => null), 'dev-ret connects');
      await device.publishAsync(topics.events('dev-ret'), rolledBack(), { qos: 1, retain: true });
      await waitFor(() => {
        hub!.flush();
        return storedEvents(hub!, 'dev-ret').length === 1;
      }, 'the event stored');
      await receiver.waitFor(1, 'device-rolled-back');

      await hub.close();
      hub = await start();
      // the hub subscribed again at start (the broker hands retained copies over then); an event sent after
      // that arrives after any retained one
      await device.publishAsync(topics.events('dev-ret'), JSON.stringify({ type: 'activated', message: 'after restart', at: new Date().toISOString() }), { qos: 1 });
      await waitFor(() => {
        hub!.flush();
        return storedEvents(hub!, 'dev-ret').some((e) => e.type === 'activated');
      }, 'the later event stored');
      expect(storedEvents(hub, 'dev-ret').map((e) => e.type)).toEqual(['activated', 'rolled-back']);
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
    const policy = createBrokerPolicy({ checkDevice: () => true, onRefused: () => undefined });
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
