// What tests of several hub replicas (design §8) watch: every desired state the broker delivers to a hub-side
// subscriber.
import mqtt from 'mqtt';
import { topics } from '@edgefleet/protocol';

/** Every desired state the broker hands a hub-side subscriber, in arrival order, per device. */
export async function observeDesired(url: string) {
  const seen = new Map<string, Array<{ seq: number; envelope: string }>>();
  const retained = new Map<string, string>();
  const client = await mqtt.connectAsync(url, { clientId: `obs-${process.pid}-${Math.random().toString(36).slice(2, 8)}`, reconnectPeriod: 200 });
  client.on('message', (topic, payload, packet) => {
    const id = topic.split('/')[3]!;
    if (payload.length === 0) return;
    const env = JSON.parse(payload.toString()) as { payload: string };
    const seq = (JSON.parse(Buffer.from(env.payload, 'base64').toString()) as { sequence: number }).sequence;
    seen.set(id, [...(seen.get(id) ?? []), { seq, envelope: payload.toString() }]);
    if (packet.retain) retained.set(id, payload.toString());
  });
  await client.subscribeAsync(topics.desired('x').replace('/x/', '/+/'), { qos: 1 });
  return { seen, retained, close: () => client.endAsync() };
}

