// Arbitrary valid ONNX through the local OIP API: every answer equals bare onnxruntime on the same inputs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createBareSession,
  LARGE_IN,
  LARGE_OUT,
  largeModel,
  ort,
  plainValues,
  recurrentModel,
  RNN_HIDDEN,
  RNN_INPUT,
  typesModel,
} from './support/models.js';
import { multiIoModel, seededFloats } from '@edgefleet/protocol/testing';
import { startTestServer, type TestServer } from './support/local-api-server.js';

const MODELS = {
  multi: multiIoModel(),
  types: typesModel(),
  rnn: recurrentModel(),
  large: largeModel(),
};

let server: TestServer;
const bare: Record<string, ort.InferenceSession> = {};

beforeAll(async () => {
  server = await startTestServer(Object.entries(MODELS).map(([name, bytes]) => ({ name, version: '1.0.0', bytes })));
  for (const [name, bytes] of Object.entries(MODELS)) bare[name] = await createBareSession(bytes);
});

afterAll(async () => {
  await server?.close();
  for (const s of Object.values(bare)) await s.release();
});

function outputsByName(json: { outputs: { name: string; shape: number[]; datatype: string; data: unknown[] }[] }) {
  return Object.fromEntries(json.outputs.map((o) => [o.name, o]));
}

describe('local API serves arbitrary ONNX like bare onnxruntime', () => {
  it('several inputs and outputs with int64 and bool, at two batch sizes', async () => {
    for (const batch of [1, 5]) {
      const x = seededFloats(batch * 3, 10 + batch);
      const ids = Array.from({ length: batch }, (_, i) => i * 1000 - 7);
      const mask = Array.from({ length: batch }, (_, i) => i % 2 === 0);
      const res = await server.post('/v2/models/multi/infer', {
        inputs: [
          { name: 'x', datatype: 'FP32', shape: [batch, 3], data: Array.from(x) },
          { name: 'ids', datatype: 'INT64', shape: [batch], data: ids },
          { name: 'mask', datatype: 'BOOL', shape: [batch], data: mask },
        ],
      });
      expect(res.status).toBe(200);
      const want = await bare['multi']!.run({
        x: new ort.Tensor('float32', x, [batch, 3]),
        ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [batch]),
        mask: new ort.Tensor('bool', Uint8Array.from(mask, Number), [batch]),
      });
      const got = outputsByName(res.json);
      expect(res.json.outputs.map((o: { name: string }) => o.name)).toEqual(['y', 'ids2', 'picked', 'nmask']);
      for (const name of ['y', 'ids2', 'picked', 'nmask']) {
        expect(got[name]!.shape).toEqual(want[name]!.dims);
        expect(got[name]!.data).toEqual(plainValues(want[name]!));
      }
      expect(got['ids2']!.datatype).toBe('INT64');
      expect(got['nmask']!.datatype).toBe('BOOL');
      expect(got['nmask']!.data).toEqual(mask.map((m) => !m));
    }
  });

  it('FP64, INT32, INT8 and UINT8 inputs with a symbolic inner dim', async () => {
    const f64 = [Math.PI, -1e-12, 1e100, 0.1];
    const i32 = [-2000000, 7, 3, -1];
    const i8 = [-60, 60, 1, 0];
    const u8 = [100, 27, 0, 1];
    const res = await server.post('/v2/models/types/infer', {
      inputs: [
        { name: 'f64', datatype: 'FP64', shape: [2, 2], data: [[f64[0], f64[1]], [f64[2], f64[3]]] },
        { name: 'i32', datatype: 'INT32', shape: [2, 2], data: i32 },
        { name: 'i8', datatype: 'INT8', shape: [2, 2], data: i8 },
        { name: 'u8', datatype: 'UINT8', shape: [2, 2], data: u8 },
      ],
    });
    expect(res.status).toBe(200);
    const want = await bare['types']!.run({
      f64: new ort.Tensor('float64', Float64Array.from(f64), [2, 2]),
      i32: new ort.Tensor('int32', Int32Array.from(i32), [2, 2]),
      i8: new ort.Tensor('int8', Int8Array.from(i8), [2, 2]),
      u8: new ort.Tensor('uint8', Uint8Array.from(u8), [2, 2]),
    });
    const got = outputsByName(res.json);
    for (const [name, datatype] of [['f64', 'FP64'], ['i32', 'INT32'], ['i8', 'INT8'], ['u8', 'UINT8']] as const) {
      expect(got[`${name}_out`]!.datatype).toBe(datatype);
      expect(got[`${name}_out`]!.data).toEqual(plainValues(want[`${name}_out`]!));
    }
    expect(got['f64_out']!.data[0]).toBe(2 * Math.PI); // FP64 kept at full precision
  });

  it('a recurrent model, its state fed back through the API step after step', async () => {
    const batch = 2;
    let hApi: number[] = new Array(batch * RNN_HIDDEN).fill(0);
    let hBare = new Float32Array(batch * RNN_HIDDEN);
    for (let step = 0; step < 8; step++) {
      const x = seededFloats(batch * RNN_INPUT, 100 + step);
      const res = await server.post('/v2/models/rnn/infer', {
        id: `step-${step}`,
        inputs: [
          { name: 'x', datatype: 'FP32', shape: [batch, RNN_INPUT], data: Array.from(x) },
          { name: 'h', datatype: 'FP32', shape: [batch, RNN_HIDDEN], data: hApi },
        ],
      });
      expect(res.status).toBe(200);
      expect(res.json.id).toBe(`step-${step}`);
      const want = await bare['rnn']!.run({
        x: new ort.Tensor('float32', x, [batch, RNN_INPUT]),
        h: new ort.Tensor('float32', hBare, [batch, RNN_HIDDEN]),
      });
      const got = outputsByName(res.json);
      expect(got['h_next']!.data).toEqual(plainValues(want['h_next']!));
      expect(got['y']!.data).toEqual(plainValues(want['y']!));
      hApi = got['h_next']!.data as number[];
      hBare = want['h_next']!.data as Float32Array;
    }
    expect(hApi.some((v) => v !== 0)).toBe(true);
  });

  it('a model file of at least 10 MB', async () => {
    expect(MODELS.large.byteLength).toBeGreaterThanOrEqual(10 * 1024 * 1024);
    const x = seededFloats(2 * LARGE_IN, 42);
    const res = await server.post('/v2/models/large/infer', {
      inputs: [{ name: 'x', datatype: 'FP32', shape: [2, LARGE_IN], data: Array.from(x) }],
    });
    expect(res.status).toBe(200);
    const want = await bare['large']!.run({ x: new ort.Tensor('float32', x, [2, LARGE_IN]) });
    const y = res.json.outputs[0];
    expect(y.shape).toEqual([2, LARGE_OUT]);
    expect(y.data).toEqual(plainValues(want['y']!));
  });

  it('returns only the requested outputs, in the requested order', async () => {
    const res = await server.post('/v2/models/multi/infer', {
      inputs: [
        { name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] },
        { name: 'ids', datatype: 'INT64', shape: [1], data: [4] },
        { name: 'mask', datatype: 'BOOL', shape: [1], data: [true] },
      ],
      outputs: [{ name: 'nmask' }, { name: 'ids2' }],
    });
    expect(res.status).toBe(200);
    expect(res.json.outputs).toEqual([
      { name: 'nmask', datatype: 'BOOL', shape: [1], data: [false] },
      { name: 'ids2', datatype: 'INT64', shape: [1], data: [9] },
    ]);
  });

  it('describes each model with OIP metadata, -1 for symbolic dims', async () => {
    const res = await server.get('/v2/models/multi');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      name: 'multi',
      versions: ['1.0.0'],
      platform: 'onnxruntime_onnx',
      inputs: [
        { name: 'x', datatype: 'FP32', shape: [-1, 3] },
        { name: 'ids', datatype: 'INT64', shape: [-1] },
        { name: 'mask', datatype: 'BOOL', shape: [-1] },
      ],
      outputs: [
        { name: 'y', datatype: 'FP32', shape: [-1, 2] },
        { name: 'ids2', datatype: 'INT64', shape: [-1] },
        { name: 'picked', datatype: 'FP32', shape: [-1] },
        { name: 'nmask', datatype: 'BOOL', shape: [-1] },
      ],
    });
    expect((await server.get('/v2/models/types')).json.inputs[0]).toEqual({ name: 'f64', datatype: 'FP64', shape: [2, -1] });
  });
});
