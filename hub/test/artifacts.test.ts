// Artifact serving (design §4, §8): only artifacts in the device's desired state; frames re-assemble exactly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { decodeChunkFrame, sha256Hex, topics } from '@edgefleet/protocol';
import { seededClassifier } from '@edgefleet/protocol/testing';
import type { Hub } from '@edgefleet/hub';
import { apiClient, connectDevice, endClient, startTestHub, tempDir, tinyModel, waitFor } from './helpers.js';

describe('artifact serving', () => {
  let hub: Hub;
  let dir: ReturnType<typeof tempDir>;
  let api: ReturnType<typeof apiClient>;
  let token = '';
  let device: MqttClient | undefined;
  // ~380 KB: several 64 KiB chunks
  const model = seededClassifier({ seed: 11, features: 3, classes: 2, hidden: 16_000, scale: 0.1 });
  const other = tinyModel(7);
  const frames: Buffer[] = [];

  beforeAll(async () => {
    dir = tempDir();
    hub = await startTestHub(dir.path);
    api = apiClient(hub.urls.http, hub.adminToken);
    token = (await api.post('/devices', { id: 'dev-art' })).body.token;
    expect((await api.pushModel(model, { name: 'big', version: '1.0.0' })).status).toBe(201);
    expect((await api.pushModel(other, { name: 'other', version: '1.0.0' })).status).toBe(201);
    expect((await api.post('/rollouts', { model: 'big', version: '1.0.0', targets: { devices: ['dev-art'] } })).status).toBe(201);
    device = await connectDevice(hub.urls.mqtt!, 'dev-art', token);
    device.on('message', (topic, payload) => {
      if (topic === topics.artifactData('dev-art')) frames.push(payload);
    });
    await device.subscribeAsync(topics.artifactData('dev-art'), { qos: 1 });
  });
  afterAll(async () => {
    await endClient(device);
    await hub.close();
    dir.remove();
  });

  it('refuses a chunk request for an artifact that is not in the device’s desired state', async () => {
    const before = hub.metrics.get('edgefleet_rejected_messages_total', { reason: 'FORBIDDEN', topic: 'artifact-get' });
    await device!.publishAsync(topics.artifactGet('dev-art'), JSON.stringify({ sha256: sha256Hex(other), chunks: [0] }), { qos: 1 });
    await waitFor(() => hub.metrics.get('edgefleet_rejected_messages_total', { reason: 'FORBIDDEN', topic: 'artifact-get' }) === before + 1, 'refusal counted');
    expect(frames).toHaveLength(0);
  });

  it('serves requested chunks as frames that re-assemble to the exact artifact', async () => {
    const sha = sha256Hex(model);
    const count = Math.ceil(model.length / 65536);
    expect(count).toBeGreaterThan(2);
    // ask in two windows, out of order, with a duplicate
    await device!.publishAsync(topics.artifactGet('dev-art'), JSON.stringify({ sha256: sha, chunks: [2, 0, 0] }), { qos: 1 });
    await device!.publishAsync(topics.artifactGet('dev-art'), JSON.stringify({ sha256: sha, chunks: Array.from({ length: count }, (_, i) => i).filter((i) => i !== 0 && i !== 2) }), { qos: 1 });
    await waitFor(() => new Set(frames.map((f) => (decodeChunkFrame(f) as { value: { index: number } }).value.index)).size === count, 'all chunks');
    const parts = new Map<number, Uint8Array>();
    for (const f of frames) {
      const d = decodeChunkFrame(f);
      if (!d.ok) throw new Error(d.message);
      expect(d.value.sha256).toBe(sha);
      parts.set(d.value.index, d.value.data);
    }
    const whole = Buffer.concat([...parts.entries()].sort((a, b) => a[0] - b[0]).map(([, d]) => d));
    expect(sha256Hex(whole)).toBe(sha);
    expect(whole.length).toBe(model.length);
  });

  it('refuses chunk indices past the end and malformed requests, counted by reason', async () => {
    const sha = sha256Hex(model);
    const bad = () => hub.metrics.get('edgefleet_rejected_messages_total', { reason: 'BAD_MESSAGE', topic: 'artifact-get' });
    const b0 = bad();
    await device!.publishAsync(topics.artifactGet('dev-art'), JSON.stringify({ sha256: sha, chunks: [999] }), { qos: 1 });
    await device!.publishAsync(topics.artifactGet('dev-art'), JSON.stringify({ sha256: 'nope', chunks: [0] }), { qos: 1 });
    await waitFor(() => bad() === b0 + 2, 'two BAD_MESSAGE refusals');
  });

  it('serves HTTP range requests to the device with its own credentials, only for its desired artifacts', async () => {
    const sha = sha256Hex(model);
    const basic = 'Basic ' + Buffer.from(`dev-art:${token}`).toString('base64');
    const part = await fetch(`${hub.urls.http}/api/v1/artifacts/${sha}`, { headers: { authorization: basic, range: 'bytes=100-70099' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-70099/${model.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(Buffer.from(model.subarray(100, 70100)))).toBe(true);
    const whole = await fetch(`${hub.urls.http}/api/v1/artifacts/${sha}`, { headers: { authorization: basic } });
    expect(whole.status).toBe(200);
    expect(sha256Hex(new Uint8Array(await whole.arrayBuffer()))).toBe(sha);
    const tail = await fetch(`${hub.urls.http}/api/v1/artifacts/${sha}`, { headers: { authorization: basic, range: 'bytes=-10' } });
    expect(Buffer.from(await tail.arrayBuffer()).equals(Buffer.from(model.subarray(model.length - 10)))).toBe(true);
    const beyond = await fetch(`${hub.urls.http}/api/v1/artifacts/${sha}`, { headers: { authorization: basic, range: `bytes=${model.length}-` } });
    expect(beyond.status).toBe(416);
    const notMine = await fetch(`${hub.urls.http}/api/v1/artifacts/${sha256Hex(other)}`, { headers: { authorization: basic } });
    expect(notMine.status).toBe(403);
    expect((await notMine.json()).error.code).toBe('FORBIDDEN');
    const wrong = await fetch(`${hub.urls.http}/api/v1/artifacts/${sha}`, { headers: { authorization: 'Basic ' + Buffer.from('dev-art:wrong').toString('base64') } });
    expect(wrong.status).toBe(401);
  });
});
