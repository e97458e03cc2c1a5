// A restarted external broker (design §8) may have lost its retained messages: the hub publishes the keyring
// and every device's current desired state again when it reconnects, so a device that (re)subscribes gets
// what it should run, not nothing or an older state the broker restored. Real Mosquitto, killed with SIGKILL.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { startHub, type Hub } from '@edgefleet/hub';
import { DesiredState, Envelope, fromBase64, topics, utf8Decode } from '@edgefleet/protocol';
import { apiClient, connectDevice, endClient, tempDir, tinyModel, waitFor } from './helpers.js';
import { MOSQUITTO, startMosquitto, type MosquittoProcess } from './processes.js';

const HUB_PASSWORD = 'hub-secret-for-tests-only';
const DEVICE = 'dev-republish';

/** The retained messages a fresh subscriber of the keyring and the device's desired topic is handed. */
async function retained(url: string, token: string): Promise<{ keyring: boolean; sequence: number | null }> {
  let client: MqttClient | undefined;
  try {
    client = await waitFor(() => connectDevice(url, DEVICE, token).catch(() => null), `${DEVICE} connects`);
    const got = { keyring: false, sequence: null as number | null };
    client.on('message', (topic, payload) => {
      if (topic === topics.keyring()) got.keyring = true;
      if (topic === topics.desired(DEVICE) && payload.length > 0) {
        const env = Envelope.parse(JSON.parse(payload.toString('utf8')));
        got.sequence = DesiredState.parse(JSON.parse(utf8Decode(fromBase64(env.payload)))).sequence;
      }
    });
    await client.subscribeAsync([topics.desired(DEVICE), topics.keyring()], { qos: 1 });
    // retained messages follow the SUBACK; a round trip on the device's own topic orders after them
    await client.publishAsync(topics.events(DEVICE), JSON.stringify({ type: 'error', message: 'probe', at: new Date().toISOString() }), { qos: 1 });
    await new Promise((r) => setTimeout(r, 200));
    return got;
  } finally {
    if (client) await endClient(client);
  }
}

describe.skipIf(!existsSync(MOSQUITTO))('hub reconnecting to a restarted Mosquitto', () => {
  let dir: ReturnType<typeof tempDir> | undefined;
  let broker: MosquittoProcess | undefined;
  let hub: Hub | undefined;
  afterEach(async () => {
    await hub?.close();
    await broker?.stop();
    dir?.remove();
    dir = broker = hub = undefined;
  });

  it('publishes the keyring and the current desired states again, so a device still finds them retained', async () => {
    dir = tempDir('edgefleet-republish-');
    broker = await startMosquitto(dir.path, HUB_PASSWORD);
    const port = broker.port;
    hub = await startHub({
      dataDir: join(dir.path, 'hub'),
      http: '127.0.0.1:0',
      broker: broker.hubUrl,
      mosquittoPasswordFile: broker.passwd,
      mosquittoPidFile: broker.pidFile,
      log: () => {},
    });
    const api = apiClient(hub.urls.http, hub.adminToken);
    const token = (await api.post('/devices', { id: DEVICE })).body.token as string;
    expect((await api.pushModel(tinyModel(), { name: 'tiny', version: '1.0.0' })).status).toBe(201);
    expect((await api.post('/rollouts', { model: 'tiny', version: '1.0.0', targets: { devices: [DEVICE] }, waves: [100], soak: '0s' })).status).toBe(201);
    const url = `mqtt://127.0.0.1:${port}`;
    let before = { keyring: false, sequence: null as number | null };
    await waitFor(async () => ((before = await retained(url, token)), before.sequence !== null && before.keyring), 'the desired state retained');

    // SIGKILL with persistence off: every retained message is gone with it
    await broker.kill();
    broker = await startMosquitto(dir.path, HUB_PASSWORD, [], { port, keepPasswordFile: true });
    let after = { keyring: false, sequence: null as number | null };
    await waitFor(async () => ((after = await retained(url, token)), after.sequence !== null && after.keyring), 'the keyring and desired state retained again');
    expect(after).toEqual({ keyring: true, sequence: before.sequence });
    // counted once the broker acknowledged the whole republish, which can be just after a device sees it
    await waitFor(() => hub!.metrics.get('edgefleet_broker_republish_total', {}) >= 1, 'the republish counted');
  });
});
