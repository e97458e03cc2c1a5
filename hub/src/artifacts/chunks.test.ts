// Chunk scheduling: round-robin across devices with a global cap and a bounded queue per device.
import { describe, expect, it } from 'vitest';
import { generateKeyPair, signDocument, topics, type Manifest } from '@edgefleet/protocol';
import { createChunkServer } from './chunks.js';
import type { ArtifactStore } from './store.js';
import type { HubContext } from '../context.js';
import { createMetrics, HUB_METRICS } from '../metrics.js';

const SHA = 'ab'.repeat(32);
const CHUNK = 1024;
const CHUNKS = 200;

function manifestEnvelope(): string {
  const m: Manifest = {
    kind: 'model-manifest',
    model: 'm',
    version: '1.0.0',
    release: 1,
    createdAt: new Date().toISOString(),
    artifact: { sha256: SHA, size: CHUNK * CHUNKS, chunkSize: CHUNK, format: 'onnx' },
    io: { inputs: [{ name: 'x', type: 'float32', shape: [1] }], outputs: [{ name: 'y', type: 'float32', shape: [1] }] },
    selfTest: { inputs: [{ name: 'x', type: 'float32', shape: [1], data: [0] }], outputs: [{ name: 'y', type: 'float32', shape: [1], data: [0] }], tolerance: { abs: 0, rel: 0 } },
    lineage: {},
    compat: { runtimes: ['onnxruntime'] },
  };
  return JSON.stringify(signDocument('model-manifest', m, [generateKeyPair()]));
}

function setup(concurrency: number) {
  const published: string[] = [];
  const metrics = createMetrics([...HUB_METRICS]);
  const envelope = manifestEnvelope();
  const ctx = {
    store: { modelVersionBySha: async () => ({ size: CHUNK * CHUNKS, envelope }) },
    metrics,
    log: () => undefined,
    reject: (topic: string, reason: string) => metrics.inc('edgefleet_rejected_messages_total', { reason, topic }),
    bus: {
      publish: (topic: string) => {
        published.push(topic);
        return new Promise<void>((r) => setImmediate(r));
      },
    },
  } as unknown as HubContext;
  const reads: number[] = [];
  const artifacts = {
    read: async (_sha: string, o: number, n: number) => {
      reads.push(o);
      return new Uint8Array(n);
    },
  } as unknown as ArtifactStore;
  const server = createChunkServer(ctx, artifacts, async (_id, sha) => sha === SHA, { concurrency });
  const ask = (id: string, chunks: number[]) => server.handle(id, Buffer.from(JSON.stringify({ sha256: SHA, chunks })));
  return { server, published, metrics, ask, reads };
}

describe('chunk server', () => {
  it('interleaves devices so one device’s long queue does not starve another', async () => {
    const { server, published, ask } = setup(1);
    await ask('dev-a', Array.from({ length: 64 }, (_, i) => i));
    await ask('dev-b', [0, 1]);
    await server.idle();
    expect(published).toHaveLength(66);
    const firstB = published.slice(0, 4).filter((t) => t === topics.artifactData('dev-b'));
    expect(firstB).toHaveLength(2);
  });

  it('bounds the chunks queued per device and counts what it drops', async () => {
    const { server, published, metrics, ask } = setup(1);
    for (let r = 0; r < 3; r++) await ask('dev-a', Array.from({ length: 64 }, (_, i) => r * 64 + i));
    await server.idle();
    expect(published.length).toBeLessThanOrEqual(129);
    expect(metrics.get('edgefleet_rejected_messages_total', { reason: 'TOO_LARGE', topic: 'artifact-get' })).toBeGreaterThan(0);
  });

  it('reads each chunk once when many devices fetch the same artifact', async () => {
    const { server, published, reads, ask } = setup(4);
    for (let d = 0; d < 10; d++) await ask(`dev-${d}`, [0, 1, 2, 3]);
    await server.idle();
    expect(published).toHaveLength(40);
    expect(reads).toHaveLength(4);
  });
});
