// The OIP codec and TensorData conversions (moved here from the agent core with the code).
import { describe, expect, it } from 'vitest';
import { EdgefleetError } from '../errors.js';
import type { TensorSpec } from '../schemas/index.js';
import type { Tensor } from './tensor.js';
import { decodeInferInputs, encodeOutput, encodeOutputs, OipInferRequest, requestedOutputNames, type OipTensor } from './oip.js';
import { tensorFromData, tensorMismatch, tensorsClose, tensorToData } from './tensor-data.js';

function badInput(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(EdgefleetError);
    expect((err as EdgefleetError).code).toBe('BAD_INPUT');
    return (err as EdgefleetError).message;
  }
  throw new Error('expected BAD_INPUT, nothing was thrown');
}

const one = (spec: TensorSpec, input: Partial<OipTensor>): Record<string, Tensor> =>
  decodeInferInputs([spec], [{ name: spec.name, shape: [], datatype: 'FP32', data: [], ...input }]);

describe('decodeInferInputs: each datatype', () => {
  it('decodes FP32 into a Float32Array', () => {
    const t = one({ name: 'x', type: 'float32', shape: ['batch', 2] }, { shape: [2, 2], data: [1, 2.5, -3, 0] })['x']!;
    expect(t.data).toBeInstanceOf(Float32Array);
    expect(Array.from(t.data as Float32Array)).toEqual([1, 2.5, -3, 0]);
    expect(t.dims).toEqual([2, 2]);
  });
  it('decodes FP64 keeping full double precision', () => {
    const t = one({ name: 'x', type: 'float64', shape: [2] }, { datatype: 'FP64', shape: [2], data: [0.1, 1e300] })['x']!;
    expect(t.data).toBeInstanceOf(Float64Array);
    expect(Array.from(t.data as Float64Array)).toEqual([0.1, 1e300]);
  });
  it('decodes INT32 and refuses fractions and out-of-range values', () => {
    const spec: TensorSpec = { name: 'x', type: 'int32', shape: [2] };
    const t = one(spec, { datatype: 'INT32', shape: [2], data: [-2147483648, 2147483647] })['x']!;
    expect(t.data).toBeInstanceOf(Int32Array);
    expect(Array.from(t.data as Int32Array)).toEqual([-2147483648, 2147483647]);
    expect(badInput(() => one(spec, { datatype: 'INT32', shape: [2], data: [1, 1.5] }))).toBe(
      "input 'x' value at index 1 (1.5) is not an integer for INT32",
    );
    expect(badInput(() => one(spec, { datatype: 'INT32', shape: [2], data: [2147483648, 0] }))).toBe(
      "input 'x' value at index 0 (2147483648) is out of range [-2147483648, 2147483647] for INT32",
    );
  });
  it('decodes INT8 and refuses values past its range', () => {
    const spec: TensorSpec = { name: 'x', type: 'int8', shape: [3] };
    const t = one(spec, { datatype: 'INT8', shape: [3], data: [-128, 0, 127] })['x']!;
    expect(t.data).toBeInstanceOf(Int8Array);
    expect(Array.from(t.data as Int8Array)).toEqual([-128, 0, 127]);
    expect(badInput(() => one(spec, { datatype: 'INT8', shape: [3], data: [0, 128, 0] }))).toContain('out of range [-128, 127]');
  });
  it('decodes UINT8 and refuses negatives', () => {
    const spec: TensorSpec = { name: 'x', type: 'uint8', shape: [2] };
    const t = one(spec, { datatype: 'UINT8', shape: [2], data: [0, 255] })['x']!;
    expect(t.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(t.data as Uint8Array)).toEqual([0, 255]);
    expect(badInput(() => one(spec, { datatype: 'UINT8', shape: [2], data: [-1, 0] }))).toContain('out of range [0, 255]');
  });
  it('decodes INT16, UINT16 and UINT32', () => {
    expect(Array.from(one({ name: 'x', type: 'int16', shape: [1] }, { datatype: 'INT16', shape: [1], data: [-32768] })['x']!.data as Int16Array)).toEqual([-32768]);
    expect(Array.from(one({ name: 'x', type: 'uint16', shape: [1] }, { datatype: 'UINT16', shape: [1], data: [65535] })['x']!.data as Uint16Array)).toEqual([65535]);
    expect(Array.from(one({ name: 'x', type: 'uint32', shape: [1] }, { datatype: 'UINT32', shape: [1], data: [4294967295] })['x']!.data as Uint32Array)).toEqual([4294967295]);
  });
  it('decodes INT64 from safe numbers and decimal strings', () => {
    const spec: TensorSpec = { name: 'x', type: 'int64', shape: [3] };
    const t = one(spec, { datatype: 'INT64', shape: [3], data: [-5, 9007199254740991, '-9223372036854775808'] })['x']!;
    expect(t.data).toBeInstanceOf(BigInt64Array);
    expect(Array.from(t.data as BigInt64Array)).toEqual([-5n, 9007199254740991n, -9223372036854775808n]);
  });
  it('refuses INT64 numbers beyond 2^53, fractions and out-of-range strings', () => {
    const spec: TensorSpec = { name: 'x', type: 'int64', shape: [1] };
    expect(badInput(() => one(spec, { datatype: 'INT64', shape: [1], data: [2 ** 60] }))).toContain(
      'lost precision in JSON; send it as a decimal string',
    );
    expect(badInput(() => one(spec, { datatype: 'INT64', shape: [1], data: [0.5] }))).toContain('is not an integer for INT64');
    expect(badInput(() => one(spec, { datatype: 'INT64', shape: [1], data: ['9223372036854775808'] }))).toContain('out of range');
    expect(badInput(() => one(spec, { datatype: 'INT64', shape: [1], data: ['12abc'] }))).toContain('is not an integer');
  });
  it('decodes UINT64 and refuses negatives', () => {
    const spec: TensorSpec = { name: 'x', type: 'uint64', shape: [1] };
    expect(Array.from(one(spec, { datatype: 'UINT64', shape: [1], data: ['18446744073709551615'] })['x']!.data as BigUint64Array)).toEqual([
      18446744073709551615n,
    ]);
    expect(badInput(() => one(spec, { datatype: 'UINT64', shape: [1], data: [-1] }))).toContain('out of range');
  });
  it('decodes BOOL from true/false (and 0/1) into a Uint8Array', () => {
    const spec: TensorSpec = { name: 'm', type: 'bool', shape: [4] };
    const t = one(spec, { datatype: 'BOOL', shape: [4], data: [true, false, 1, 0] })['m']!;
    expect(t.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(t.data as Uint8Array)).toEqual([1, 0, 1, 0]);
    expect(badInput(() => one(spec, { datatype: 'BOOL', shape: [4], data: [true, 'yes', 1, 0] }))).toBe(
      "input 'm' value at index 1 ('yes') is not true/false for BOOL",
    );
  });
  it('decodes FP16 into IEEE half bits', () => {
    const t = one({ name: 'h', type: 'float16', shape: [3] }, { datatype: 'FP16', shape: [3], data: [1, -2, 0.5] })['h']!;
    expect(Array.from(t.data as Uint16Array)).toEqual([0x3c00, 0xc000, 0x3800]);
  });
  it('decodes BYTES as strings', () => {
    const t = one({ name: 's', type: 'string', shape: [2] }, { datatype: 'BYTES', shape: [2], data: ['a', 'héllo'] })['s']!;
    expect(t.data).toEqual(['a', 'héllo']);
    expect(badInput(() => one({ name: 's', type: 'string', shape: [1] }, { datatype: 'BYTES', shape: [1], data: [3] }))).toContain('is not a string');
  });
  it('refuses a non-number in a float tensor', () => {
    expect(badInput(() => one({ name: 'x', type: 'float32', shape: [2] }, { shape: [2], data: [1, '2'] }))).toBe(
      "input 'x' value at index 1 ('2') is not a number for FP32",
    );
  });
});

describe('decodeInferInputs: names, shapes and counts', () => {
  const io: TensorSpec[] = [
    { name: 'a', type: 'float32', shape: ['batch', 3] },
    { name: 'b', type: 'int64', shape: ['batch'] },
  ];
  const good = (): OipTensor[] => [
    { name: 'a', datatype: 'FP32', shape: [2, 3], data: [1, 2, 3, 4, 5, 6] },
    { name: 'b', datatype: 'INT64', shape: [2], data: [7, 8] },
  ];

  it('accepts nested row-major arrays as well as flat ones', () => {
    const nested = decodeInferInputs(io, [
      { name: 'a', datatype: 'FP32', shape: [2, 3], data: [[1, 2, 3], [4, 5, 6]] },
      { name: 'b', datatype: 'INT64', shape: [2], data: [7, 8] },
    ]);
    expect(Array.from(nested['a']!.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(decodeInferInputs(io, good())['a']!.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
  });
  it('names an unknown input and lists the real ones', () => {
    const inputs = good();
    inputs[0]!.name = 'features';
    expect(badInput(() => decodeInferInputs(io, inputs))).toBe("unknown input 'features' (model inputs: a, b)");
  });
  it('names a missing input', () => {
    expect(badInput(() => decodeInferInputs(io, good().slice(0, 1)))).toBe("missing input 'b' (INT64 [batch])");
  });
  it('refuses the same input twice', () => {
    const inputs = good();
    expect(badInput(() => decodeInferInputs(io, [inputs[0]!, inputs[0]!, inputs[1]!]))).toBe("input 'a' given twice");
  });
  it('says which datatype was expected', () => {
    const inputs = good();
    inputs[0]!.datatype = 'INT64';
    expect(badInput(() => decodeInferInputs(io, inputs))).toBe("input 'a' expects FP32, got INT64");
    inputs[0]!.datatype = 'FLOAT';
    expect(badInput(() => decodeInferInputs(io, inputs))).toBe("input 'a' has unknown datatype 'FLOAT' (expects FP32)");
  });
  it('refuses a wrong rank', () => {
    const inputs = good();
    inputs[0]!.shape = [6];
    expect(badInput(() => decodeInferInputs(io, inputs))).toBe("input 'a' expects rank 2 [batch, 3], got shape [6]");
  });
  it('refuses a wrong fixed dimension', () => {
    const inputs = good();
    inputs[0]!.shape = [3, 2];
    inputs[1]!.shape = [3];
    inputs[1]!.data = [1, 2, 3];
    expect(badInput(() => decodeInferInputs(io, inputs))).toBe("input 'a' dimension 1 must be 3, got 2 (expects [batch, 3])");
  });
  it('accepts any batch size but the same symbol must agree across inputs', () => {
    const inputs = good();
    inputs[0]!.shape = [1, 3];
    inputs[0]!.data = [1, 2, 3];
    inputs[1]!.shape = [1];
    inputs[1]!.data = [9];
    expect(decodeInferInputs(io, inputs)['b']!.dims).toEqual([1]);
    inputs[1]!.shape = [2];
    inputs[1]!.data = [9, 9];
    expect(badInput(() => decodeInferInputs(io, inputs))).toBe("input 'b' dimension 0 ('batch') is 2 but input 'a' has 'batch' = 1");
  });
  it('lets unnamed dynamic dims differ between inputs', () => {
    const anon: TensorSpec[] = [
      { name: 'p', type: 'float32', shape: ['?'] },
      { name: 'q', type: 'float32', shape: ['?'] },
    ];
    const t = decodeInferInputs(anon, [
      { name: 'p', datatype: 'FP32', shape: [1], data: [1] },
      { name: 'q', datatype: 'FP32', shape: [3], data: [1, 2, 3] },
    ]);
    expect(t['q']!.dims).toEqual([3]);
  });
  it('refuses an element count that does not match the shape', () => {
    const inputs = good();
    inputs[0]!.data = [1, 2, 3, 4, 5];
    expect(badInput(() => decodeInferInputs(io, inputs))).toBe("input 'a' has 5 values but shape [2, 3] needs 6");
  });
  it('refuses nested data that does not follow the shape', () => {
    const inputs = good();
    inputs[0]!.data = [[1, 2, 3], 4, 5, 6];
    expect(badInput(() => decodeInferInputs(io, inputs))).toBe("input 'a' nested data does not follow shape [2, 3] at depth 0");
    inputs[0]!.data = [[1, 2], [3, 4], [5, 6]];
    expect(badInput(() => decodeInferInputs(io, inputs))).toBe("input 'a' nested data does not follow shape [2, 3] at depth 0");
    inputs[0]!.data = [[1, 2, 3, 4], [5, 6]];
    expect(badInput(() => decodeInferInputs(io, inputs))).toBe("input 'a' nested data does not follow shape [2, 3] at depth 1");
  });
});

describe('OipInferRequest schema', () => {
  it('accepts a full request and refuses a negative dim', () => {
    expect(
      OipInferRequest.safeParse({ id: 'r1', inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }], outputs: [{ name: 'y' }] })
        .success,
    ).toBe(true);
    expect(OipInferRequest.safeParse({ inputs: [{ name: 'x', shape: [-1], datatype: 'FP32', data: [1] }] }).success).toBe(false);
    expect(OipInferRequest.safeParse({ inputs: [] }).success).toBe(false);
  });
});

describe('requestedOutputNames', () => {
  const outs: TensorSpec[] = [
    { name: 'p', type: 'float32', shape: ['batch', 2] },
    { name: 'label', type: 'int64', shape: ['batch'] },
  ];
  it('returns undefined (all outputs) when none are asked for, else the asked names in order', () => {
    expect(requestedOutputNames(outs, undefined)).toBeUndefined();
    expect(requestedOutputNames(outs, [{ name: 'label' }])).toEqual(['label']);
  });
  it('refuses an unknown output', () => {
    expect(badInput(() => requestedOutputNames(outs, [{ name: 'q' }]))).toBe("unknown output 'q' (model outputs: p, label)");
  });
});

describe('encodeOutput', () => {
  it('writes int64 as numbers when safe and decimal strings beyond 2^53', () => {
    const o = encodeOutput('y', { type: 'int64', dims: [3], data: new BigInt64Array([1n, -(2n ** 60n), 2n ** 53n - 1n]) });
    expect(o).toEqual({ name: 'y', datatype: 'INT64', shape: [3], data: [1, '-1152921504606846976', 9007199254740991] });
  });
  it('writes bool as true/false', () => {
    expect(encodeOutput('m', { type: 'bool', dims: [2], data: new Uint8Array([1, 0]) }).data).toEqual([true, false]);
  });
  it('writes FP32, FP64, INT8, UINT8, INT32 as plain numbers', () => {
    expect(encodeOutput('a', { type: 'float32', dims: [1], data: new Float32Array([0.5]) })).toEqual({ name: 'a', datatype: 'FP32', shape: [1], data: [0.5] });
    expect(encodeOutput('b', { type: 'float64', dims: [1], data: new Float64Array([0.1]) }).data).toEqual([0.1]);
    expect(encodeOutput('c', { type: 'int8', dims: [1], data: new Int8Array([-3]) }).data).toEqual([-3]);
    expect(encodeOutput('d', { type: 'uint8', dims: [1], data: new Uint8Array([200]) }).data).toEqual([200]);
    expect(encodeOutput('e', { type: 'int32', dims: [1], data: new Int32Array([-70000]) }).datatype).toBe('INT32');
  });
  it('round-trips through the decoder for every datatype', () => {
    const cases: Tensor[] = [
      { type: 'float32', dims: [2], data: new Float32Array([1.5, -2]) },
      { type: 'float64', dims: [2], data: new Float64Array([Math.PI, -1e-300]) },
      { type: 'float16', dims: [2], data: new Uint16Array([0x3c00, 0x7bff]) },
      { type: 'int8', dims: [2], data: new Int8Array([-128, 127]) },
      { type: 'uint8', dims: [2], data: new Uint8Array([0, 255]) },
      { type: 'int16', dims: [2], data: new Int16Array([-1, 1]) },
      { type: 'uint16', dims: [2], data: new Uint16Array([0, 65535]) },
      { type: 'int32', dims: [2], data: new Int32Array([-1, 1]) },
      { type: 'uint32', dims: [2], data: new Uint32Array([0, 4294967295]) },
      { type: 'int64', dims: [2], data: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]) },
      { type: 'uint64', dims: [2], data: new BigUint64Array([0n, 2n ** 64n - 1n]) },
      { type: 'bool', dims: [2], data: new Uint8Array([1, 0]) },
      { type: 'string', dims: [2], data: ['x', ''] },
    ];
    for (const t of cases) {
      const wire = JSON.parse(JSON.stringify(encodeOutput('v', t))) as OipTensor;
      const back = decodeInferInputs([{ name: 'v', type: t.type, shape: [2] }], [wire])['v']!;
      expect(back.type).toBe(t.type);
      expect(Array.from(back.data as ArrayLike<unknown>)).toEqual(Array.from(t.data as ArrayLike<unknown>));
    }
  });
  it('encodes only the named outputs, in the given order', () => {
    const results: Record<string, Tensor> = {
      p: { type: 'float32', dims: [1], data: new Float32Array([1]) },
      q: { type: 'float32', dims: [1], data: new Float32Array([2]) },
    };
    expect(encodeOutputs(results, ['q']).map((o) => o.name)).toEqual(['q']);
  });
});

describe('tensorFromData / tensorToData / tensorsClose', () => {
  it('builds a runtime tensor from manifest data and back', () => {
    const t = tensorFromData({ name: 'ids', type: 'int64', shape: [2], data: [3, '9007199254740993'] });
    expect(Array.from(t.data as BigInt64Array)).toEqual([3n, 9007199254740993n]);
    expect(tensorToData('ids', t)).toEqual({ name: 'ids', type: 'int64', shape: [2], data: [3, '9007199254740993'] });
  });
  it('refuses manifest data whose count does not match its shape', () => {
    expect(badInput(() => tensorFromData({ name: 'x', type: 'float32', shape: [2, 2], data: [1, 2, 3] }))).toBe(
      "tensor 'x' has 3 values but shape [2, 2] needs 4",
    );
  });
  it('compares within abs + rel tolerance and says what differs', () => {
    const actual: Tensor = { type: 'float32', dims: [2], data: new Float32Array([1.0005, 100.05]) };
    const expected = { name: 'y', type: 'float32' as const, shape: [2], data: [1, 100] };
    expect(tensorsClose(expected, actual, { abs: 1e-3, rel: 1e-3 })).toBe(true);
    expect(tensorsClose(expected, actual, { abs: 1e-4, rel: 0 })).toBe(false);
    expect(tensorMismatch(expected, actual, { abs: 1e-4, rel: 0 })).toMatch(/^'y'\[0\] = 1\.000/);
    expect(tensorMismatch({ ...expected, shape: [1, 2] }, actual, { abs: 1, rel: 0 })).toBe("'y' shape [2], expected [1, 2]");
    expect(tensorMismatch({ ...expected, type: 'float64' }, actual, { abs: 1, rel: 0 })).toBe("'y' type float32, expected float64");
  });
  it('compares bool, NaN and big int64 exactly', () => {
    expect(tensorsClose({ name: 'b', type: 'bool', shape: [2], data: [true, false] }, { type: 'bool', dims: [2], data: new Uint8Array([1, 0]) }, { abs: 0, rel: 0 })).toBe(true);
    expect(tensorsClose({ name: 'b', type: 'bool', shape: [1], data: [true] }, { type: 'bool', dims: [1], data: new Uint8Array([0]) }, { abs: 0, rel: 0 })).toBe(false);
    expect(tensorsClose({ name: 'n', type: 'float32', shape: [1], data: [NaN] }, { type: 'float32', dims: [1], data: new Float32Array([NaN]) }, { abs: 0, rel: 0 })).toBe(true);
    expect(
      tensorsClose({ name: 'i', type: 'int64', shape: [1], data: ['9007199254740993'] }, { type: 'int64', dims: [1], data: new BigInt64Array([9007199254740992n]) }, { abs: 10, rel: 0 }),
    ).toBe(false);
  });
});
