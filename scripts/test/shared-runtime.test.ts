// The simulator's runtime wrappers with real onnxruntime: one session per model file shared by many agents
// (reference-counted), and fault injection that spares the self-test and warm-up runs.

import { describe, expect, it } from 'vitest';
import { createSharedRuntime, withFaults } from '../sim/shared-runtime.js';
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

  it('injects inference errors only after the self-test and warm-up runs', async () => {
    const rt = withFaults(createSharedRuntime(), { errorRate: 1 });
    const s = await rt.load(sizedClassifier(10_000, 3));
    await s.run(feeds); // self-test
    await s.run(feeds); // warm-up
    await expect(s.run(feeds)).rejects.toMatchObject({ code: 'INFERENCE_FAILED' });
    await s.release();
  });
});
