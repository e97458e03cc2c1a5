// The end-to-end suite shared by every broker setup (STYLE: one suite, every implementation):
// device add → push → deploy → a plain mqtt.js client acting as the device verifies its desired state
// with the protocol package and fetches the artifact, byte for byte.

import { expect } from 'vitest';
import type { MqttClient } from 'mqtt';
import {
  ChunkRequest,
  decodeChunkFrame,
  fromBase64,
  sha256Hex,
  topics,
  verifyDesiredState,
  verifyKeyring,
  type AgentConfig,
} from '@edgefleet/protocol';
import { apiClient, connectDevice, endClient, tinyModel, waitFor } from './helpers.js';

export interface E2eTarget {
  httpUrl: string;
  adminToken: string;
  /** Called after device add (mosquitto reloads its password file here). */
  afterDeviceAdd?: () => Promise<void>;
  /** The broker URL the device dials (defaults to the agent config's tcp URL). */
  deviceBrokerUrl?: (config: AgentConfig) => string;
}

export async function runEndToEnd(t: E2eTarget, deviceId: string): Promise<void> {
  const api = apiClient(t.httpUrl, t.adminToken);
  const added = await api.post('/devices', { id: deviceId, tags: { site: 'lab' } });
  expect(added.status).toBe(201);
  const config = added.body.agentConfig as AgentConfig;
  expect(config.username).toBe(deviceId);
  await t.afterDeviceAdd?.();

  const model = tinyModel(1);
  const pushed = await api.pushModel(model, { name: 'tiny', version: '1.0.0' });
  expect(pushed.status, JSON.stringify(pushed.body)).toBe(201);
  expect(pushed.body.sha256).toBe(sha256Hex(model));
  expect(pushed.body.release).toBe(1);

  const rollout = await api.post('/rollouts', { model: 'tiny', version: '1.0.0', targets: { tags: [{ site: 'lab' }] } });
  expect(rollout.status, JSON.stringify(rollout.body)).toBe(201);

  let client: MqttClient | undefined;
  try {
    // retried: an external broker picks up new credentials when it reloads (mosquitto: SIGHUP)
    client = await waitFor(
      () =>
        connectDevice(t.deviceBrokerUrl?.(config) ?? config.brokers.tcp!, deviceId, config.password, {
          will: { topic: topics.status(deviceId), payload: Buffer.from('offline'), qos: 1, retain: true },
        }).catch(() => null),
      'device connects',
    );
    const messages: Array<{ topic: string; payload: Buffer }> = [];
    client.on('message', (topic, payload) => messages.push({ topic, payload }));
    await client.subscribeAsync([topics.keyring(), topics.desired(deviceId), topics.artifactData(deviceId)], { qos: 1 });

    const keyringMsg = await waitFor(() => messages.find((m) => m.topic === topics.keyring()), 'keyring');
    const keyring = verifyKeyring(keyringMsg.payload, fromBase64(config.rootPublicKey), null, new Date());
    expect(keyring.ok, JSON.stringify(keyring)).toBe(true);
    if (!keyring.ok) return;

    const desiredMsg = await waitFor(() => messages.find((m) => m.topic === topics.desired(deviceId) && m.payload.length > 0), 'desired state');
    const verified = verifyDesiredState(desiredMsg.payload, { deviceId, lastSequence: 0, keyring: keyring.value, now: new Date() });
    expect(verified.ok, JSON.stringify(verified)).toBe(true);
    if (!verified.ok) return;
    const manifest = verified.value.models[0]!.manifest;
    expect(manifest.model).toBe('tiny');
    expect(manifest.artifact.sha256).toBe(sha256Hex(model));

    const count = Math.ceil(manifest.artifact.size / manifest.artifact.chunkSize);
    const request: ChunkRequest = { sha256: manifest.artifact.sha256, chunks: Array.from({ length: count }, (_, i) => i) };
    await client.publishAsync(topics.artifactGet(deviceId), JSON.stringify(request), { qos: 1 });
    const frames = await waitFor(() => {
      const got = messages.filter((m) => m.topic === topics.artifactData(deviceId));
      return got.length >= count ? got : null;
    }, 'artifact frames');
    const parts = new Map<number, Uint8Array>();
    for (const f of frames) {
      const d = decodeChunkFrame(f.payload);
      expect(d.ok).toBe(true);
      if (d.ok) parts.set(d.value.index, d.value.data);
    }
    const whole = Buffer.concat([...parts.entries()].sort((a, b) => a[0] - b[0]).map(([, b]) => b));
    expect(whole.equals(Buffer.from(model))).toBe(true);

    // reported state and status reach the registry
    await client.publishAsync(topics.status(deviceId), 'online', { qos: 1, retain: true });
    await client.publishAsync(
      topics.reported(deviceId),
      JSON.stringify({
        deviceId,
        agentVersion: '0.1.0',
        runtime: 'test',
        platform: 'linux',
        desiredSequence: verified.value.desired.sequence,
        keyringVersion: keyring.value.version,
        models: {
          tiny: {
            active: { version: '1.0.0', release: 1, sha256: manifest.artifact.sha256 },
            previous: null,
            shadow: null,
            state: 'active',
          },
        },
        at: new Date().toISOString(),
      }),
      { qos: 1, retain: true },
    );
    const device = await waitFor(async () => {
      const r = await api.get(`/devices/${deviceId}`);
      return r.body.device?.status === 'online' && r.body.device?.reported ? r.body.device : null;
    }, 'device online with a reported state');
    expect(device.reported.models.tiny.active.version).toBe('1.0.0');
    const fleet = await api.get('/fleet/status');
    expect(fleet.body.versions).toContainEqual({ model: 'tiny', version: '1.0.0', devices: 1 });
  } finally {
    await endClient(client);
  }
}
