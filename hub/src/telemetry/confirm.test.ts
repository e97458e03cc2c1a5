// The confirmer's coalescing and its independence from one publish that never completes (design §4
// telemetry confirm). The bus is a stand-in here: a broker killed between PUBLISH and PUBACK is a fault
// the real path only produces by chance; the rest (signing, sequence) is the hub's own code.
import { describe, expect, it } from 'vitest';
import { Command, generateKeyPair, type Envelope } from '@edgefleet/protocol';
import type { HubContext } from '../context.js';
import { createMetrics, HUB_METRICS } from '../metrics.js';
import { createSigner } from '../trust/signer.js';
import { createTelemetryConfirmer, seqRanges } from './confirm.js';

function fakeHub(publish: (n: number) => Promise<void>) {
  const sent: Command[] = [];
  let sequence = 0;
  const ctx = {
    store: { getDevice: () => ({ id: 'dev-1' }), transaction: <T>(fn: () => T) => fn(), nextCommandSequence: () => ++sequence },
    keys: { directorSigner: createSigner(generateKeyPair(new Uint8Array(32).fill(4))) },
    bus: {
      publish: (_topic: string, payload: string) => {
        const env = JSON.parse(payload) as Envelope;
        sent.push(Command.parse(JSON.parse(Buffer.from(env.payload, 'base64').toString())));
        return publish(sent.length);
      },
    },
    metrics: createMetrics(HUB_METRICS),
    log: () => {},
    now: () => new Date(),
  } as unknown as HubContext;
  return { ctx, sent };
}

describe('telemetry confirmer', () => {
  it('turns committed seqs into inclusive ranges', () => {
    expect(seqRanges([7, 3, 4, 5, 9, 4, 1])).toEqual([[1, 1], [3, 5], [7, 7], [9, 9]]);
  });

  it('coalesces a device\'s seqs into one command per flush, and goes on when a publish never completes', async () => {
    // the first publish hangs forever (its broker died before the PUBACK), the others complete
    const { ctx, sent } = fakeHub((n) => (n === 1 ? new Promise(() => {}) : Promise.resolve()));
    const confirmer = createTelemetryConfirmer(ctx, { intervalMs: 60_000 });
    for (const seq of [1, 2, 3, 5]) confirmer.done('dev-1', seq);
    await confirmer.flush();
    confirmer.done('dev-1', 6);
    await confirmer.flush();
    await new Promise((r) => setImmediate(r));
    expect(sent.map((c) => [c.sequence, c.telemetrySeq, c.telemetryRanges])).toEqual([
      [1, 5, [[1, 3], [5, 5]]],
      [2, 6, [[6, 6]]],
    ]);
    expect(ctx.metrics.get('edgefleet_telemetry_confirms_total')).toBe(1);
    await confirmer.close();
  });
});
