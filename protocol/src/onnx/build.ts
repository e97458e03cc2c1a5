// ONNX graph builder: a plain-object spec → serialized ModelProto bytes. Used by tests, the demo, benchmarks
// and the trainer's exporter; PyPI is out of reach, so models are made here, in TypeScript.
import protobuf from 'protobufjs/light.js';
import { EdgefleetError } from '../errors.js';
import type { ElementType, TensorSpec } from '../schemas/index.js';
import { TYPED_ARRAYS, UNNAMED_DIM, type TypedArray } from '../tensors/elements.js';
import { ATTRIBUTE_TYPE, DATA_TYPE, ModelProto } from './schema.js';

/** Numbers, bigints, booleans or strings for a tensor, row-major. Typed arrays are used as they are. */
export type TensorValues =
  | TypedArray
  | readonly number[]
  | readonly bigint[]
  | readonly boolean[]
  | readonly string[];

/** A constant tensor (initializer or tensor attribute). float16 data must be given as Uint16Array bits. */
export interface TensorInit {
  type: ElementType;
  dims: readonly number[];
  data: TensorValues;
}

export interface InitializerSpec extends TensorInit {
  name: string;
}

/**
 * An attribute value. Plain values are typed by their shape: an integer number → INT (except for the
 * attribute names in FLOAT_ATTRIBUTE_NAMES, e.g. Gemm's `alpha: 1`), a fraction → FLOAT, a string → STRING,
 * an array of integers → INTS, Float32Array/Float64Array or fractions → FLOATS, string[] → STRINGS.
 * The tagged forms (`{ float: 1 }`, `{ ints: [..] }`, `{ tensor: {...} }`) say the type explicitly.
 */
export type AttributeValue =
  | number
  | bigint
  | string
  | readonly number[]
  | readonly bigint[]
  | readonly string[]
  | Float32Array
  | Float64Array
  | Int32Array
  | BigInt64Array
  | { float: number }
  | { int: number | bigint }
  | { string: string }
  | { floats: ArrayLike<number> }
  | { ints: ArrayLike<number> | readonly bigint[] }
  | { strings: readonly string[] }
  | { tensor: TensorInit };

export interface NodeSpec {
  op: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes?: Record<string, AttributeValue>;
  name?: string;
  /** Operator domain; '' (the default ONNX domain) when absent. */
  domain?: string;
}

export interface ModelSpec {
  /** ONNX IR version; default 8 (pairs with opset 17). */
  irVersion?: number;
  /** Default-domain opset version, or versions by domain (`''` is the ONNX domain); default 17. */
  opset?: number | Record<string, number>;
  producer?: string;
  producerVersion?: string;
  modelVersion?: number;
  docString?: string;
  graphName?: string;
  inputs: readonly TensorSpec[];
  outputs: readonly TensorSpec[];
  initializers?: readonly InitializerSpec[];
  nodes: readonly NodeSpec[];
  /** ModelProto.metadata_props (onnxruntime exposes no API for these; `readModelInfo` reads them). */
  metadata?: Record<string, string>;
}

export const DEFAULT_IR_VERSION = 8;
export const DEFAULT_OPSET = 17;

/** Attribute names whose plain-number values are FLOAT in the standard operators, even when integral. */
export const FLOAT_ATTRIBUTE_NAMES: ReadonlySet<string> = new Set([
  'alpha',
  'beta',
  'gamma',
  'epsilon',
  'momentum',
  'bias',
  'lambd',
  'ratio',
  'scale',
  'scales',
  'spatial_scale',
  'mean',
  'high',
  'low',
  'seed',
  'max',
  'min',
  'value_float',
  'value_floats',
]);

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const textEncoder = new TextEncoder();

function badSpec(message: string): EdgefleetError {
  return new EdgefleetError('BAD_INPUT', message);
}

/** TensorProto.raw_data is little-endian (onnx.proto); on the rare big-endian host we swap bytes. */
function littleEndianBytes(typed: TypedArray): Uint8Array {
  const view = new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
  if (LITTLE_ENDIAN || typed.BYTES_PER_ELEMENT === 1) return view;
  const size = typed.BYTES_PER_ELEMENT;
  const out = new Uint8Array(view.length);
  for (let i = 0; i < view.length; i += size) {
    for (let j = 0; j < size; j++) out[i + j] = view[i + size - 1 - j] as number;
  }
  return out;
}

function toBigInt(v: unknown, what: string): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (typeof v === 'boolean') return v ? 1n : 0n;
  throw badSpec(`${what}: ${String(v)} is not an integer`);
}

function toNumberArray(data: TensorValues): ArrayLike<number> {
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Array.from(data, Number);
  const first = (data as ArrayLike<unknown>)[0];
  if (typeof first === 'number' || data.length === 0 || ArrayBuffer.isView(data)) return data as ArrayLike<number>;
  if (typeof first === 'boolean') return Array.from(data as readonly boolean[], (b) => (b ? 1 : 0));
  if (typeof first === 'bigint') return Array.from(data as readonly bigint[], Number);
  throw badSpec(`tensor data of ${typeof first} is not numeric`);
}

/** Typed view of `data` for a numeric element type; reuses the caller's array when it already has that type. */
function typedFor(type: ElementType, data: TensorValues, what: string): TypedArray {
  switch (type) {
    case 'float32':
    case 'float64':
    case 'int8':
    case 'uint8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'uint32': {
      const Typed = TYPED_ARRAYS[type];
      return data instanceof Typed ? data : new (Typed as new (values: ArrayLike<number>) => TypedArray)(toNumberArray(data));
    }
    case 'int64':
    case 'uint64': {
      const Typed = TYPED_ARRAYS[type];
      if (data instanceof Typed) return data;
      const values = Array.from(data as ArrayLike<unknown>, (v) => toBigInt(v, what));
      return new (Typed as new (values: ArrayLike<bigint>) => TypedArray)(values);
    }
    case 'bool':
      // bool is one byte per element, 0 or 1 (onnx.proto: stored like uint8)
      return Uint8Array.from(Array.from(data as ArrayLike<unknown>, (v) => (v ? 1 : 0)));
    case 'float16':
      if (data instanceof Uint16Array) return data;
      throw badSpec(`${what}: float16 data must be a Uint16Array of IEEE half bits`);
    case 'string':
      throw badSpec(`${what}: string tensors have no numeric view`);
  }
}

/** int64 for protobufjs: a number when exact, else a decimal string (protobufjs takes no bigint). */
function int64(v: number | bigint): number | string {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw badSpec(`${v} is not a safe integer`);
    return v;
  }
  if (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  return v.toString(); // protobufjs parses decimal strings into Long itself
}

function tensorProto(init: TensorInit, name: string | undefined): Record<string, unknown> {
  const what = name ?? 'tensor';
  const dataType = DATA_TYPE[init.type];
  if (dataType === undefined) throw badSpec(`${what}: unknown element type ${String(init.type)}`);
  const count = init.dims.reduce((a, b) => a * b, 1);
  if (init.data.length !== count) {
    throw badSpec(`${what}: ${init.data.length} values for dims [${init.dims.join(', ')}] (expected ${count})`);
  }
  const proto: Record<string, unknown> = { dims: init.dims.map((d) => int64(d)), dataType };
  if (name !== undefined) proto['name'] = name;
  if (init.type === 'string') {
    proto['stringData'] = Array.from(init.data as ArrayLike<unknown>, (s) => textEncoder.encode(String(s)));
  } else {
    // raw_data keeps a 40 MB initializer one memcpy away from the wire (packed float_data is per element)
    proto['rawData'] = littleEndianBytes(typedFor(init.type, init.data, what));
  }
  return proto;
}

function isTypedFloat(v: unknown): v is Float32Array | Float64Array {
  return v instanceof Float32Array || v instanceof Float64Array;
}

function attributeProto(name: string, value: AttributeValue): Record<string, unknown> {
  const at = (type: number, field: string, v: unknown) => ({ name, type, [field]: v });
  const floats = (v: ArrayLike<number>) => at(ATTRIBUTE_TYPE.FLOATS, 'floats', Array.from(v));
  const ints = (v: ArrayLike<number | bigint>) =>
    at(ATTRIBUTE_TYPE.INTS, 'ints', Array.from(v, (x) => int64(x)));
  if (typeof value === 'number') {
    return Number.isInteger(value) && !FLOAT_ATTRIBUTE_NAMES.has(name)
      ? at(ATTRIBUTE_TYPE.INT, 'i', int64(value))
      : at(ATTRIBUTE_TYPE.FLOAT, 'f', value);
  }
  if (typeof value === 'bigint') return at(ATTRIBUTE_TYPE.INT, 'i', int64(value));
  if (typeof value === 'string') return at(ATTRIBUTE_TYPE.STRING, 's', textEncoder.encode(value));
  if (isTypedFloat(value)) return floats(value);
  if (value instanceof Int32Array || value instanceof BigInt64Array) return ints(value);
  if (Array.isArray(value)) {
    const list = value as readonly unknown[];
    if (list.every((x) => typeof x === 'string')) {
      return at(ATTRIBUTE_TYPE.STRINGS, 'strings', list.map((s) => textEncoder.encode(s as string)));
    }
    if (list.every((x) => typeof x === 'bigint')) return ints(list as bigint[]);
    if (list.every((x) => typeof x === 'number')) {
      const nums = list as number[];
      return nums.every(Number.isInteger) && !FLOAT_ATTRIBUTE_NAMES.has(name) ? ints(nums) : floats(nums);
    }
    throw badSpec(`attribute ${name}: mixed array`);
  }
  const tagged = value as Record<string, unknown>;
  if ('float' in tagged) return at(ATTRIBUTE_TYPE.FLOAT, 'f', tagged['float']);
  if ('int' in tagged) return at(ATTRIBUTE_TYPE.INT, 'i', int64(tagged['int'] as number | bigint));
  if ('string' in tagged) return at(ATTRIBUTE_TYPE.STRING, 's', textEncoder.encode(String(tagged['string'])));
  if ('floats' in tagged) return floats(tagged['floats'] as ArrayLike<number>);
  if ('ints' in tagged) return ints(tagged['ints'] as ArrayLike<number | bigint>);
  if ('strings' in tagged) {
    return at(
      ATTRIBUTE_TYPE.STRINGS,
      'strings',
      (tagged['strings'] as string[]).map((s) => textEncoder.encode(s)),
    );
  }
  if ('tensor' in tagged) return at(ATTRIBUTE_TYPE.TENSOR, 't', tensorProto(tagged['tensor'] as TensorInit, undefined));
  throw badSpec(`attribute ${name}: unsupported value`);
}

function valueInfo(spec: TensorSpec): Record<string, unknown> {
  const elemType = DATA_TYPE[spec.type];
  if (elemType === undefined) throw badSpec(`${spec.name}: unknown element type ${String(spec.type)}`);
  // UNNAMED_DIM is written as neither dim_value nor dim_param, the way many exporters write a dynamic dim
  const dim = spec.shape.map((d) => (typeof d === 'number' ? { dimValue: int64(d) } : d === UNNAMED_DIM ? {} : { dimParam: d }));
  return { name: spec.name, type: { tensorType: { elemType, shape: { dim } } } };
}

/** Serialize a model spec to ONNX ModelProto bytes. Throws `BAD_INPUT` on an inconsistent spec. */
export function buildModel(spec: ModelSpec): Uint8Array {
  const opsets = typeof spec.opset === 'object' ? spec.opset : { '': spec.opset ?? DEFAULT_OPSET };
  if (!('' in opsets) && !('ai.onnx' in opsets)) throw badSpec('opset: the default ONNX domain "" is required');
  const model = {
    irVersion: int64(spec.irVersion ?? DEFAULT_IR_VERSION),
    producerName: spec.producer ?? 'edgefleet',
    ...(spec.producerVersion !== undefined ? { producerVersion: spec.producerVersion } : {}),
    ...(spec.modelVersion !== undefined ? { modelVersion: int64(spec.modelVersion) } : {}),
    ...(spec.docString !== undefined ? { docString: spec.docString } : {}),
    opsetImport: Object.entries(opsets).map(([domain, version]) => ({ domain, version: int64(version) })),
    metadataProps: Object.entries(spec.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: spec.graphName ?? 'main',
      input: spec.inputs.map(valueInfo),
      output: spec.outputs.map(valueInfo),
      initializer: (spec.initializers ?? []).map((init) => tensorProto(init, init.name)),
      node: spec.nodes.map((node, index) => ({
        name: node.name ?? `${node.op}_${index}`,
        opType: node.op,
        ...(node.domain !== undefined ? { domain: node.domain } : {}),
        input: [...node.inputs],
        output: [...node.outputs],
        attribute: Object.entries(node.attributes ?? {}).map(([name, value]) => attributeProto(name, value)),
      })),
    },
  };
  return ModelProto.encode(model as unknown as protobuf.Message).finish();
}

export type Activation = 'relu' | 'tanh' | 'sigmoid';

export interface MlpClassifierSpec {
  /** One matrix per layer, row-major [inputs, outputs] (Gemm with transB = 0); the last layer gives the logits. */
  weights: readonly Float32Array[];
  /** One bias vector per layer. */
  biases: readonly Float32Array[];
  /** Input tensor name; default `features`. */
  inputName?: string;
  /** Symbolic batch dimension name; default `batch`. */
  batchDim?: string;
  /** Activation between layers; default `relu`. */
  activation?: Activation;
  probabilitiesName?: string;
  labelName?: string;
  metadata?: Record<string, string>;
  producer?: string;
  opset?: number;
  irVersion?: number;
}

const ACTIVATION_OP: Record<Activation, string> = { relu: 'Relu', tanh: 'Tanh', sigmoid: 'Sigmoid' };

/**
 * A dense classifier: features [batch, F] float32 → `probabilities` [batch, C] float32 (Softmax) and
 * `label` [batch] int64 (ArgMax over the logits, keepdims = 0). No hidden layer = softmax regression.
 */
export function buildMlpClassifier(spec: MlpClassifierSpec): Uint8Array {
  const { weights, biases } = spec;
  if (weights.length === 0 || weights.length !== biases.length) {
    throw badSpec(`classifier: ${weights.length} weight matrices for ${biases.length} bias vectors`);
  }
  const inputName = spec.inputName ?? 'features';
  const batch = spec.batchDim ?? 'batch';
  const probabilities = spec.probabilitiesName ?? 'probabilities';
  const label = spec.labelName ?? 'label';
  const act = ACTIVATION_OP[spec.activation ?? 'relu'];
  const initializers: InitializerSpec[] = [];
  const nodes: NodeSpec[] = [];
  let previous = inputName;
  let inputSize = 0;
  let width = 0;
  weights.forEach((w, i) => {
    const b = biases[i] as Float32Array;
    const out = b.length;
    const inp = out === 0 ? 0 : w.length / out;
    if (!Number.isInteger(inp) || inp === 0) throw badSpec(`layer ${i}: ${w.length} weights for ${out} outputs`);
    if (i === 0) inputSize = inp;
    else if (inp !== width) throw badSpec(`layer ${i}: takes ${inp} inputs but the previous layer gives ${width}`);
    width = out;
    initializers.push({ name: `W${i}`, type: 'float32', dims: [inp, out], data: w });
    initializers.push({ name: `b${i}`, type: 'float32', dims: [out], data: b });
    const last = i === weights.length - 1;
    const z = last ? 'logits' : `z${i}`;
    nodes.push({ op: 'Gemm', inputs: [previous, `W${i}`, `b${i}`], outputs: [z], name: `dense${i}` });
    if (!last) {
      nodes.push({ op: act, inputs: [z], outputs: [`h${i}`], name: `act${i}` });
      previous = `h${i}`;
    }
  });
  nodes.push({ op: 'Softmax', inputs: ['logits'], outputs: [probabilities], attributes: { axis: -1 } });
  nodes.push({ op: 'ArgMax', inputs: ['logits'], outputs: [label], attributes: { axis: 1, keepdims: 0 } });
  return buildModel({
    ...(spec.irVersion !== undefined ? { irVersion: spec.irVersion } : {}),
    ...(spec.opset !== undefined ? { opset: spec.opset } : {}),
    ...(spec.producer !== undefined ? { producer: spec.producer } : {}),
    ...(spec.metadata !== undefined ? { metadata: spec.metadata } : {}),
    inputs: [{ name: inputName, type: 'float32', shape: [batch, inputSize] }],
    outputs: [
      { name: probabilities, type: 'float32', shape: [batch, width] },
      { name: label, type: 'int64', shape: [batch] },
    ],
    initializers,
    nodes,
  });
}
