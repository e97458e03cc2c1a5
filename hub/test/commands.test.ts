// Signed commands reach only their device and verify with the protocol package (design §3, §4).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { fromBase64, topics, verifyCommand, verifyKeyring, type Keyring } from '@edgefleet/protocol';
import type { Hub } from '@edgefleet/hub';
import { apiClient, connectDevice, endClient, startTestHub, tempDir, waitFor } from './helpers.js';

describe('commands', () => {
  let hub: Hub;
  let dir: ReturnType<typeof tempDir>;
  let device: MqttClient | undefined;
  const got: Buffer[] = [];
  let keyring: Keyring;

  beforeAll(async () => {
    dir = tempDir();
    hub = await startTestHub(dir.path, { ws: null });
    const added = (await apiClient(hub.urls.http, hub.adminToken).post('/devices', { id: 'dev-c' })).body;
    device = await connectDevice(hub.urls.mqtt!, 'dev-c', added.token);
    const ring: Buffer[] = [];
    device.on('message', (t, p) => (t === topics.command('dev-c') ? got.push(p) : ring.push(p)));
    await device.subscribeAsync([topics.command('dev-c'), topics.keyring()], { qos: 1 });
    const r = verifyKeyring(await waitFor(() => ring[0], 'keyring'), fromBase64(added.agentConfig.rootPublicKey), null, new Date());
    if (!r.ok) throw new Error(r.message);
    keyring = r.value;
  });
  afterAll(async () => {
    await endClient(device);
    await hub.close();
    dir.remove();
  });

  it('sends director-signed commands with strictly increasing sequences', async () => {
    await hub.services.commands.send('dev-c', 'resync');
    await hub.services.commands.send('dev-c', 'rollback', { model: 'tiny', reason: 'gate failed' });
    await waitFor(() => got.length === 2, 'two commands');
    const first = verifyCommand(got[0]!, { deviceId: 'dev-c', lastSequence: 0, keyring, now: new Date() });
    expect(first.ok && first.value.action).toBe('resync');
    const second = verifyCommand(got[1]!, { deviceId: 'dev-c', lastSequence: 1, keyring, now: new Date() });
    expect(second.ok && second.value.sequence).toBe(2);
    // a replay of the first one fails on its sequence
    const replay = verifyCommand(got[0]!, { deviceId: 'dev-c', lastSequence: 2, keyring, now: new Date() });
    expect(replay.ok ? 'accepted' : replay.code).toBe('REPLAYED_SEQUENCE');
  });

  it('sends a command through the API for an operator, not for a viewer', async () => {
    const admin = apiClient(hub.urls.http, hub.adminToken);
    const viewer = apiClient(hub.urls.http, (await admin.post('/tokens', { role: 'viewer' })).body.token);
    expect((await viewer.post('/devices/dev-c/commands', { action: 'resync' })).status).toBe(403);
    expect((await admin.post('/devices/dev-c/commands', { action: 'reboot' })).body.error.code).toBe('BAD_INPUT');
    const sent = await admin.post('/devices/dev-c/commands', { action: 'flush-telemetry' });
    expect(sent.status).toBe(202);
    expect(sent.body.command.sequence).toBe(3);
    await waitFor(() => got.length === 3, 'third command');
    const third = verifyCommand(got[2]!, { deviceId: 'dev-c', lastSequence: 2, keyring, now: new Date() });
    expect(third.ok && third.value.action).toBe('flush-telemetry');
    expect((await admin.get('/devices/dev-c/desired')).body.error.code).toBe('NOT_FOUND');
  });

  it('signs a batch command with its model and file; one without a file is refused before anything is signed', async () => {
    const admin = apiClient(hub.urls.http, hub.adminToken);
    expect((await admin.post('/devices/dev-c/commands', { action: 'batch', model: 'tiny' })).body.error.code).toBe('BAD_INPUT');
    await expect(hub.services.commands.send('dev-c', 'batch', { path: 'rows.jsonl' })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    const n = got.length;
    const sent = await admin.post('/devices/dev-c/commands', { action: 'batch', model: 'tiny', path: 'rows.csv' });
    expect(sent.status).toBe(202);
    await waitFor(() => got.length === n + 1, 'the batch command');
    const c = verifyCommand(got[n]!, { deviceId: 'dev-c', lastSequence: sent.body.command.sequence - 1, keyring, now: new Date() });
    expect(c.ok && { action: c.value.action, model: c.value.model, path: c.value.path }).toEqual({ action: 'batch', model: 'tiny', path: 'rows.csv' });
  });
});
