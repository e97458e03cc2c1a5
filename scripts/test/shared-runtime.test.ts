// The simulator's runtime wrappers with real onnxruntime: one session per model file shared by many agents
// (reference-counted), and fault injection that spares the self-test and warm-up runs.

import { describe, expect, it } from 'vitest';
import { EdgefleetError } from '@edgefleet/protocol';
import type { ModelSession } from '@edgefleet/agent/core';
import { createSharedRuntime, sha256Of, withFaults } from '../sim/shared-runtime.js';
import { sizedClassifier } from '../sim/models.js';

const feeds = { features: { type: 'float32' as const, dims: [1, 6], data: new Float32Array([1, 3, 2.8, 50, 0.2, 45]) } };

describe('shared runtime', () => {
  it('loads one session per model file and releases it after the last user', async () => {
    const rt = createSharedRuntime();
    const a = sizedClassifier(10_000, 1);
    const b = sizedClassifier(10_000, 2);
    const [s1, s2, s3] = await Promise.all([rt.load(a), rt.load(a.slice()), rt.load(b)]);
    expect(rt.sessions()).toBe(2);
    expect(rt.hits).toBe(1);
    const [o1, o2] = await Promise.all([s1!.run(feeds), s2!.run(feeds)]);
    expect(Array.from(o1!.probabilities!.data as Float32Array)).toEqual(Array.from(o2!.probabilities!.data as Float32Array));
    await s1!.release();
    expect(rt.sessions()).toBe(2); // s2 still uses it
    await expect(s1!.run(feeds)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await s2!.release();
    await s3!.release();
    expect(rt.sessions()).toBe(0);
  });

  it('loads a just-verified model by sha256 with one read for many agents; a damaged file fails only the agent that read it', async () => {
    const rt = createSharedRuntime();
    const model = sizedClassifier(10_000, 4);
    const sha = sha256Of(model);
    let reads = 0;
    const read = async () => {
      reads++;
      return model;
    };
    const damaged = async (): Promise<Uint8Array> => {
      reads++;
      throw new EdgefleetError('HASH_MISMATCH', 'artifact on disk is damaged');
    };
    // the first caller's read fails: it alone gets the error, the others read their own files
    const results = await Promise.allSettled([rt.loadShared!(sha, damaged), rt.loadShared!(sha, read), rt.loadShared!(sha, read)]);
    expect(results[0]).toMatchObject({ status: 'rejected', reason: { code: 'HASH_MISMATCH' } });
    expect(results.slice(1).map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(reads).toBe(2); // the damaged one, then one read shared by both others
    const again = await rt.loadShared!(sha, read);
    expect(reads).toBe(2);
    expect(rt.sessions()).toBe(1);
    for (const r of [...results.slice(1).map((r) => (r as PromiseFulfilledResult<ModelSession>).value), again]) await r.release();
    expect(rt.sessions()).toBe(0);
  });

  it('injects inference errors only after the self-test and warm-up runs', async () => {
    const rt = withFaults(createSharedRuntime(), { errorRate: 1 });
    const s = await rt.load(sizedClassifier(10_000, 3));
    await s.run(feeds); // self-test
    await s.run(feeds); // warm-up
    await expect(s.run(feeds)).rejects.toMatchObject({ code: 'INFERENCE_FAILED' });
    await s.release();
  });
});
