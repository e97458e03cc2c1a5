// Restart on the same data dir keeps devices, models, tokens, keys and sequences (design §3, §7).
import { afterEach, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { fromBase64, topics, utf8Decode, type DesiredState, type Envelope } from '@edgefleet/protocol';
import type { Hub } from '@edgefleet/hub';
import { apiClient, connectDevice, endClient, startTestHub, tempDir, tinyModel, waitFor } from './helpers.js';

function desiredOf(payload: Buffer): DesiredState {
  const env = JSON.parse(payload.toString('utf8')) as Envelope;
  return JSON.parse(utf8Decode(fromBase64(env.payload))) as DesiredState;
}

async function retainedDesired(url: string, id: string, token: string): Promise<DesiredState> {
  let client: MqttClient | undefined;
  try {
    client = await connectDevice(url, id, token);
    const got: Buffer[] = [];
    client.on('message', (t, p) => t === topics.desired(id) && p.length > 0 && got.push(p));
    await client.subscribeAsync(topics.desired(id), { qos: 1 });
    return desiredOf(await waitFor(() => got[0], 'retained desired state'));
  } finally {
    await endClient(client);
  }
}

describe('restart on the same data dir', () => {
  let hub: Hub | undefined;
  let dir: ReturnType<typeof tempDir> | undefined;
  afterEach(async () => {
    await hub?.close();
    dir?.remove();
  });

  it('keeps devices, models, tokens, keys and sequences, and never reuses a sequence', async () => {
    dir = tempDir();
    hub = await startTestHub(dir.path);
    let api = apiClient(hub.urls.http, hub.adminToken);
    const adminToken = hub.adminToken;
    // the signed keyring it publishes (from <data>/keys on SQLite, from the database on PostgreSQL)
    const keyring = JSON.stringify(hub.services.ctx.keys.keyringEnvelope);
    const token = (await api.post('/devices', { id: 'dev-r', tags: { ring: 'a' } })).body.token as string;
    const operator = (await api.post('/tokens', { role: 'operator' })).body.token as string;
    expect((await api.pushModel(tinyModel(), { name: 'tiny', version: '1.0.0' })).status).toBe(201);
    expect((await api.post('/rollouts', { model: 'tiny', version: '1.0.0', targets: { tags: [{ ring: 'a' }] } })).status).toBe(201);
    const first = await retainedDesired(hub.urls.mqtt!, 'dev-r', token);
    expect(first.sequence).toBe(1);
    await hub.close();

    hub = await startTestHub(dir.path);
    api = apiClient(hub.urls.http, hub.adminToken);
    expect(hub.adminToken).toBe(adminToken);
    expect(JSON.stringify(hub.services.ctx.keys.keyringEnvelope)).toBe(keyring);
    expect((await api.get('/devices/dev-r')).body.device.tags).toEqual({ ring: 'a' });
    expect((await api.get('/models/tiny')).body.versions[0].release).toBe(1);
    expect((await apiClient(hub.urls.http, operator).get('/rollouts')).body.rollouts).toHaveLength(1);
    // the embedded broker lost its retained messages; the hub restored the same signed state
    const again = await retainedDesired(hub.urls.mqtt!, 'dev-r', token);
    expect(again.sequence).toBe(1);

    // a new deployment continues the sequence, as does a removed and re-added device
    expect((await api.pushModel(tinyModel(1), { name: 'tiny', version: '1.1.0' })).status).toBe(201);
    expect((await apiClient(hub.urls.http, operator).post('/rollouts', { model: 'tiny', version: '1.1.0', targets: { devices: ['dev-r'] } })).status).toBe(201);
    expect((await retainedDesired(hub.urls.mqtt!, 'dev-r', token)).sequence).toBe(2);
    await api.del('/devices/dev-r');
    await hub.close();
    hub = await startTestHub(dir.path);
    api = apiClient(hub.urls.http, hub.adminToken);
    const readded = (await api.post('/devices', { id: 'dev-r', tags: { ring: 'a' } })).body.token as string;
    expect(readded).not.toBe(token);
    const third = await retainedDesired(hub.urls.mqtt!, 'dev-r', readded);
    expect(third.sequence).toBe(3);
    expect(third.models).toHaveLength(1);
  });
});
