// The browser runtime under Node: onnxruntime-web's own wasm, on models built here, against
// onnxruntime-node on the same inputs (the runtime seam must not care which one serves).

import { fileURLToPath, pathToFileURL } from 'node:url';
import * as ortNode from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { EdgefleetError, type Tensor } from '@edgefleet/protocol';
import { createOrtWebRuntime, type OrtWebRuntime } from '@edgefleet/web-runtime';
import { buildModel } from '@edgefleet/protocol/onnx';
import { multiIoModel, seededClassifier, seededFloats } from '@edgefleet/protocol/testing';

/** A tiny MLP: features [batch, 4] → 8 hidden (relu) → probabilities [batch, 3] and label [batch] (INT64). */
const MLP = { seed: 11, hidden: 8 };

/** Doubles an INT32 and a UINT8 tensor with an unnamed dynamic dim (spelled '?' in specs). */
function unnamedDimModel(): Uint8Array {
  return buildModel({
    inputs: [
      { name: 'i32', type: 'int32', shape: [2, '?'] },
      { name: 'u8', type: 'uint8', shape: [2, '?'] },
    ],
    outputs: [
      { name: 'i32_out', type: 'int32', shape: [2, '?'] },
      { name: 'u8_out', type: 'uint8', shape: [2, '?'] },
    ],
    nodes: [
      { op: 'Add', inputs: ['i32', 'i32'], outputs: ['i32_out'] },
      { op: 'Add', inputs: ['u8', 'u8'], outputs: ['u8_out'] },
    ],
  });
}

const ORT_WEB_DIST = pathToFileURL(fileURLToPath(new URL('../../node_modules/onnxruntime-web/dist/', import.meta.url))).href;

async function nodeRun(model: Uint8Array, feeds: Record<string, Tensor>, outputNames?: string[]): Promise<Record<string, Tensor>> {
  const session = await ortNode.InferenceSession.create(model);
  try {
    const ortFeeds: Record<string, ortNode.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ortNode.Tensor(t.type, t.data as ortNode.Tensor.DataType, t.dims);
    const out = outputNames ? await session.run(ortFeeds, outputNames) : await session.run(ortFeeds);
    const res: Record<string, Tensor> = {};
    for (const [name, r] of Object.entries(out)) res[name] = { type: r.type as Tensor['type'], dims: [...r.dims], data: r.data as Tensor['data'] };
    return res;
  } finally {
    await session.release();
  }
}

/**
 * Same names, types, dims and values: integers and bools exactly, floats to within float32 rounding (the
 * wasm and native MLAS kernels sum in different orders: a last-bit difference, seen on MatMul).
 */
function expectSameTensors(actual: Record<string, Tensor>, expected: Record<string, Tensor>): void {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const [name, e] of Object.entries(expected)) {
    const a = actual[name]!;
    expect({ name, type: a.type, dims: [...a.dims] }).toEqual({ name, type: e.type, dims: [...e.dims] });
    const av = Array.from(a.data as ArrayLike<number | bigint>);
    const ev = Array.from(e.data as ArrayLike<number | bigint>);
    if (e.type === 'float32' || e.type === 'float64') {
      expect(av.length, name).toBe(ev.length);
      av.forEach((x, i) => {
        const want = ev[i] as number;
        expect(Math.abs((x as number) - want), `${name}[${i}]`).toBeLessThanOrEqual(1e-6 + 1e-6 * Math.abs(want));
      });
    } else {
      expect(av, name).toEqual(ev);
    }
  }
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(EdgefleetError);
    return (err as EdgefleetError).code;
  }
  throw new Error('expected a rejection');
}

describe('onnxruntime-web runtime (wasm, under Node)', () => {
  let runtime: OrtWebRuntime;
  beforeAll(() => {
    runtime = createOrtWebRuntime({ wasmPaths: ORT_WEB_DIST });
  });

  it('names itself onnxruntime-web with its version', () => {
    expect(runtime.name).toMatch(/^onnxruntime-web@1\.\d+\.\d+/);
    expect(runtime.initError).toBeNull();
  });

  it('classifies with a tiny MLP as onnxruntime-node does, honouring outputNames', async () => {
    const model = seededClassifier(MLP);
    const session = await runtime.load(model);
    expect(session.inputs).toEqual([{ name: 'features', type: 'float32', shape: ['batch', 4] }]);
    expect(session.outputs).toEqual([
      { name: 'probabilities', type: 'float32', shape: ['batch', 3] },
      { name: 'label', type: 'int64', shape: ['batch'] },
    ]);
    const feeds = { features: { type: 'float32' as const, dims: [5, 4], data: seededFloats(20, 99, 3) } };
    const all = await session.run(feeds);
    expectSameTensors(all, await nodeRun(model, feeds));
    expect(all.label!.data).toBeInstanceOf(BigInt64Array);

    const onlyLabel = await session.run(feeds, ['label']);
    expect(Object.keys(onlyLabel)).toEqual(['label']);
    expectSameTensors(onlyLabel, await nodeRun(model, feeds, ['label']));
    await session.release();
  });

  it('runs a multi-input, multi-output model with int64 and bool tensors like onnxruntime-node', async () => {
    const model = multiIoModel();
    const session = await runtime.load(model);
    expect(session.inputs.map((s) => [s.name, s.type, s.shape])).toEqual([
      ['x', 'float32', ['batch', 3]],
      ['ids', 'int64', ['batch']],
      ['mask', 'bool', ['batch']],
    ]);
    expect(session.outputs.map((s) => s.type)).toEqual(['float32', 'int64', 'float32', 'bool']);
    const feeds: Record<string, Tensor> = {
      x: { type: 'float32', dims: [4, 3], data: seededFloats(12, 5) },
      ids: { type: 'int64', dims: [4], data: BigInt64Array.from([0n, 7n, -3n, 2n ** 40n]) },
      mask: { type: 'bool', dims: [4], data: Uint8Array.from([1, 0, 1, 0]) },
    };
    const out = await session.run(feeds);
    expectSameTensors(out, await nodeRun(model, feeds));
    expect(Array.from(out.ids2!.data as BigInt64Array)).toEqual([1n, 15n, -5n, 2n ** 41n + 1n]);
    expect(Array.from(out.nmask!.data as Uint8Array)).toEqual([0, 1, 0, 1]);
    // the caller's buffers are untouched (no proxy: ort-web references them, never detaches)
    expect((feeds.x!.data as Float32Array).byteLength).toBe(48);
    await session.release();
  });

  it("spells an unnamed dynamic dim '?' and serves any size for it", async () => {
    const model = unnamedDimModel();
    const session = await runtime.load(model);
    expect(session.inputs).toEqual([
      { name: 'i32', type: 'int32', shape: [2, '?'] },
      { name: 'u8', type: 'uint8', shape: [2, '?'] },
    ]);
    for (const n of [1, 3]) {
      const feeds: Record<string, Tensor> = {
        i32: { type: 'int32', dims: [2, n], data: Int32Array.from({ length: 2 * n }, (_, i) => i - 2) },
        u8: { type: 'uint8', dims: [2, n], data: Uint8Array.from({ length: 2 * n }, (_, i) => 120 + i * 3) },
      };
      expectSameTensors(await session.run(feeds), await nodeRun(model, feeds));
    }
    await session.release();
  });

  it('refuses a corrupt model with MODEL_LOAD_FAILED and keeps loading good ones', async () => {
    const good = seededClassifier(MLP);
    const corrupt = good.slice(0, Math.floor(good.length / 2));
    expect(await codeOf(runtime.load(corrupt))).toBe('MODEL_LOAD_FAILED');
    expect(await codeOf(runtime.load(new Uint8Array([1, 2, 3])))).toBe('MODEL_LOAD_FAILED');
    expect(runtime.initError).toBeNull(); // the model was bad, not the wasm
    const session = await runtime.load(good);
    await session.release();
  });

  it('fails a run with wrong feeds as INFERENCE_FAILED and a run after release as UNAVAILABLE', async () => {
    const session = await runtime.load(seededClassifier(MLP));
    const wrong = { features: { type: 'float32' as const, dims: [1, 5], data: new Float32Array(5) } };
    expect(await codeOf(session.run(wrong))).toBe('INFERENCE_FAILED');
    await session.release();
    await session.release(); // idempotent
    const ok = { features: { type: 'float32' as const, dims: [1, 4], data: new Float32Array(4) } };
    expect(await codeOf(session.run(ok))).toBe('UNAVAILABLE');
  });
});
