// The embedded broker acknowledges a device's QoS 1 PUBLISH only once the hub has committed it, and holds
// at most a bounded number of a connection's messages unacknowledged: past that it stops reading the
// connection (TCP backpressure), so a device cannot make the hub buffer without bound.
import { afterEach, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import type { Hub } from '@edgefleet/hub';
import { createWindow, topics } from '@edgefleet/protocol';
import { apiClient, connectDevice, endClient, hubDb, startTestHub, tempDir, waitFor } from './helpers.js';

const gauge = (hub: Hub, name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(hub.metrics.render())?.[1] ?? NaN);

describe('acknowledgement after commit', () => {
  let hub: Hub | undefined;
  let client: MqttClient | undefined;
  let dir: ReturnType<typeof tempDir> | undefined;
  afterEach(async () => {
    await endClient(client);
    await hub?.close();
    dir?.remove();
    hub = client = dir = undefined;
  });

  it('acknowledges nothing before the commit and stops reading a connection with too many messages unacknowledged', async () => {
    dir = tempDir();
    // commits only when the test flushes: what is acknowledged must be what was committed
    hub = await startTestHub(dir.path, { ingest: { flushMs: 3_600_000, maxBatch: 1_000_000 }, mqttLimits: { maxUnacked: 32 } });
    const api = apiClient(hub.urls.http, hub.adminToken);
    const token = (await api.post('/devices', { id: 'dev-f' })).body.token as string;
    client = await connectDevice(hub.urls.mqtt!, 'dev-f', token);
    const w = createWindow('tiny', '1.0.0', 'active', Date.now(), Date.now() + 60_000);
    w.inferences = 1;
    const N = 5000;
    let acked = 0;
    let size = 0;
    for (let seq = 1; seq <= N; seq++) {
      const body = JSON.stringify({ deviceId: 'dev-f', seq, windows: [w], dropped: 0 });
      size = body.length + topics.telemetry('dev-f').length + 4;
      client.publish(topics.telemetry('dev-f'), body, { qos: 1 }, (err) => !err && acked++);
    }
    await waitFor(() => acked > 0 || gauge(hub!, 'edgefleet_mqtt_unacked_messages') >= 32, 'the hub holding 32 messages');
    const held = gauge(hub, 'edgefleet_mqtt_unacked_messages');
    expect(acked).toBe(0);
    // 32, plus the packets of the socket read that reached the limit (a read is at most ~80 KiB)
    expect(held).toBeLessThanOrEqual(32 + Math.ceil((128 * 1024) / size));
    const count = () => hubDb(hub!).prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM telemetry_batches').get()!.n;
    expect(count()).toBe(0);
    await hub.flush();
    await waitFor(() => acked >= held, 'the committed messages acknowledged');
    expect(count()).toBeGreaterThanOrEqual(acked);
    await waitFor(async () => (await hub!.flush(), acked === N), 'every message committed and acknowledged');
    expect(count()).toBe(N);
    expect(gauge(hub, 'edgefleet_mqtt_unacked_messages')).toBe(0);
  });
});
