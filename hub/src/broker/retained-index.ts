// aedes' memory persistence answers every SUBSCRIBE by testing each retained topic against the filter
// (aedes-persistence asyncPersistence.js retainedMessagesByPattern), so a wave of N devices subscribing to
// their artifact's multicast topic costs N × (retained desired states) topic matches: quadratic in the fleet.
// A filter without wildcards matches exactly one topic [MQTT-4.7.1]: look that up instead.

import { Readable } from 'node:stream';

interface RetainedPacket {
  topic: string;
  payload: Buffer | Uint8Array;
}

/** What this index needs of aedes' persistence (aedes-persistence's CallBackPersistence). */
interface RetainedPersistence {
  storeRetained(packet: RetainedPacket, cb?: (err: Error | null) => void): Promise<void> | void;
  createRetainedStreamCombi(patterns: string[]): Readable;
}

const hasWildcard = (pattern: string) => pattern.includes('+') || pattern.includes('#');

/** Wraps the persistence's own methods (as packet-limit.ts wraps a stream's): a mirror of retained packets by topic. */
export function indexRetained(persistence: RetainedPersistence): void {
  const byTopic = new Map<string, RetainedPacket>();
  const store = persistence.storeRetained.bind(persistence);
  const combi = persistence.createRetainedStreamCombi.bind(persistence);
  persistence.storeRetained = (packet, cb) => {
    // as the persistence keeps it: an empty payload clears the topic's retained message
    if (packet.payload.length === 0) byTopic.delete(packet.topic);
    else byTopic.set(packet.topic, { ...packet });
    return store(packet, cb);
  };
  persistence.createRetainedStreamCombi = (patterns) => {
    if (patterns.some(hasWildcard)) return combi(patterns);
    const found: RetainedPacket[] = [];
    for (const p of patterns) {
      const packet = byTopic.get(p);
      if (packet) found.push(packet);
    }
    return Readable.from(found);
  };
}
