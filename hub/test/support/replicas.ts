// What tests of several hub replicas (design §8) watch: which replica leads, and every desired state the
// broker delivers to a hub-side subscriber.
import mqtt from 'mqtt';
import { topics } from '@edgefleet/protocol';

/** `edgefleet_replica_leader` of a replica (1 while it leads), from its /metrics; null when it does not answer. */
export async function leads(http: string, token: string): Promise<boolean | null> {
  try {
    const text = await (await fetch(`${http}/metrics`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(1000) })).text();
    return /^edgefleet_replica_leader\{[^}]*\} 1$/m.test(text);
  } catch {
    return null;
  }
}

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

