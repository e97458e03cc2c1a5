// A device's reports applied in the device's own order, not in arrival order (design §8: replicas on shared
// subscriptions may take them in either order). Through the real path: a device on the embedded broker
// sends a newer report, then an older one; the hub keeps the newer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { topics } from '@edgefleet/protocol';
import type { Hub } from '@edgefleet/hub';
import { apiClient, connectDevice, endClient, startTestHub, tempDir, waitFor } from './helpers.js';

const ID = 'dev-order';
const report = (desiredSequence: number, at: string, agentVersion = '1.0.0') =>
  JSON.stringify({ deviceId: ID, agentVersion, runtime: 'node', platform: 'linux-x64', desiredSequence, keyringVersion: 1, models: {}, at });

describe('reported states out of order', () => {
  let hub: Hub;
  let dir: ReturnType<typeof tempDir>;
  let api: ReturnType<typeof apiClient>;
  let device: MqttClient;
  const stored = async () => (await api.get(`/devices/${ID}`)).body.device.reported as { agentVersion: string; desiredSequence: number; at: string };
  const superseded = () => hub.metrics.get('edgefleet_reported_superseded_total');
  const send = async (body: string, flush = true) => {
    await device.publishAsync(topics.reported(ID), body, { qos: 1 });
    if (flush) await hub.flush();
  };

  beforeAll(async () => {
    dir = tempDir();
    hub = await startTestHub(dir.path);
    api = apiClient(hub.urls.http, hub.adminToken);
    const token = (await api.post('/devices', { id: ID })).body.token as string;
    device = await connectDevice(hub.urls.mqtt!, ID, token);
  });
  afterAll(async () => {
    await endClient(device);
    await hub.close();
    dir.remove();
  });

  it('keeps the newer report when an older one arrives after it, in a later commit or in the same one', async () => {
    await send(report(2, '2026-01-01T00:00:05.000Z', '1.0.5'));
    await waitFor(async () => (await stored())?.agentVersion === '1.0.5', 'the newer report stored');
    // an older report, committed on its own
    await send(report(2, '2026-01-01T00:00:04.000Z', '1.0.4'));
    await waitFor(() => superseded() === 1, 'the older report passed over');
    expect(await stored()).toMatchObject({ agentVersion: '1.0.5', at: '2026-01-01T00:00:05.000Z' });
    // newer and older in one flush (one transaction)
    await send(report(2, '2026-01-01T00:00:07.000Z', '1.0.7'), false);
    await send(report(2, '2026-01-01T00:00:06.000Z', '1.0.6'), false);
    await hub.flush();
    await waitFor(() => superseded() === 2, 'the older report of the batch passed over');
    expect(await stored()).toMatchObject({ agentVersion: '1.0.7' });
    // a second report of the same instant is taken: one device's reports of one instant arrive in its order
    await send(report(2, '2026-01-01T00:00:07.000Z', '1.0.71'));
    await waitFor(async () => (await stored()).agentVersion === '1.0.71', 'the report of the same instant stored');
    expect(superseded()).toBe(2);
  });

  it('takes a report of a later desired state even when the device’s clock is behind the stored one', async () => {
    await send(report(3, '2026-01-01T00:00:01.000Z', '1.0.8'));
    await waitFor(async () => (await stored()).desiredSequence === 3, 'the report of desired state 3');
    expect(await stored()).toMatchObject({ agentVersion: '1.0.8' });
    await send(report(2, '2026-01-01T00:00:09.000Z', '1.0.9'));
    await waitFor(() => superseded() === 3, 'the report of desired state 2 passed over');
    expect((await stored()).desiredSequence).toBe(3);
  });
});
