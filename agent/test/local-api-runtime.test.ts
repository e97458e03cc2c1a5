// The onnxruntime-node adapter behind the local API: load errors, declared IO, output selection, release.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgefleetError } from '@edgefleet/protocol';
import { createOnnxRuntime } from '../src/node/onnx-runtime.js';
import type { ModelSession } from '../src/core/runtime.js';
import { multiIoModel } from '@edgefleet/protocol/testing';

const runtime = createOnnxRuntime({ intraOpNumThreads: 1 });
let session: ModelSession;

beforeAll(async () => {
  session = await runtime.load(multiIoModel());
});
afterAll(async () => {
  await session?.release();
});

const feeds = () => ({
  x: { type: 'float32' as const, dims: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
  ids: { type: 'int64' as const, dims: [2], data: new BigInt64Array([10n, -(2n ** 62n)]) },
  mask: { type: 'bool' as const, dims: [2], data: new Uint8Array([1, 0]) },
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(EdgefleetError);
  return (err as EdgefleetError).code;
}

describe('onnxruntime-node adapter', () => {
  it('names itself with the onnxruntime version', () => {
    expect(runtime.name).toMatch(/^onnxruntime-node(@\d+\.\d+\.\d+)?$/);
  });

  it('reads the declared inputs and outputs with symbolic dims', () => {
    expect(session.inputs).toEqual([
      { name: 'x', type: 'float32', shape: ['batch', 3] },
      { name: 'ids', type: 'int64', shape: ['batch'] },
      { name: 'mask', type: 'bool', shape: ['batch'] },
    ]);
    expect(session.outputs.map((o) => `${o.name}:${o.type}`)).toEqual(['y:float32', 'ids2:int64', 'picked:float32', 'nmask:bool']);
  });

  it('runs with int64 beyond 2^53 and bool, returning typed arrays', async () => {
    const out = await session.run(feeds());
    expect(out['ids2']!.data).toEqual(new BigInt64Array([21n, -(2n ** 63n) + 1n]));
    expect(out['nmask']).toEqual({ type: 'bool', dims: [2], data: new Uint8Array([0, 1]) });
    expect(Array.from(out['picked']!.data as Float32Array)).toEqual([6, -1]);
  });

  it('computes only the requested outputs', async () => {
    const out = await session.run(feeds(), ['nmask']);
    expect(Object.keys(out)).toEqual(['nmask']);
  });

  it('refuses bytes that are not a model with MODEL_LOAD_FAILED', async () => {
    expect(await codeOf(runtime.load(new Uint8Array([1, 2, 3, 4])))).toBe('MODEL_LOAD_FAILED');
  });

  it('turns an onnxruntime failure into INFERENCE_FAILED', async () => {
    const bad = feeds();
    bad.x = { type: 'float32', dims: [2, 2], data: new Float32Array(4) }; // MatMul shape mismatch
    expect(await codeOf(session.run(bad))).toBe('INFERENCE_FAILED');
  });

  it('answers UNAVAILABLE after release', async () => {
    const s = await runtime.load(multiIoModel());
    await s.release();
    expect(await codeOf(s.run(feeds()))).toBe('UNAVAILABLE');
    await s.release(); // idempotent
  });
});
