// ONNX model reader: IR version, opsets, producer, metadata_props and the IO signature of a ModelProto.
// onnxruntime has no metadata API, so the hub's model push (design §7) reads these here.
import { EdgefleetError } from '../errors.js';
import type { Dim, ElementType, TensorSpec } from '../schemas/index.js';
import { UNNAMED_DIM } from '../tensors/elements.js';
import { DATA_TYPE, ModelProto } from './schema.js';

export interface ModelInfo {
  irVersion: number;
  /** Opset version by domain; the default ONNX domain is `''`. */
  opsets: Record<string, number>;
  producer: string;
  producerVersion: string;
  metadata: Record<string, string>;
  /** Graph inputs that are fed at run time (inputs that are also initializers are left out). */
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

/**
 * IR versions accepted: 3 (the first with opset_import) through 13. Older files predate opsets; newer ones
 * may carry constructs this reader and the agents' runtimes do not know.
 */
export const MIN_IR_VERSION = 3;
export const MAX_IR_VERSION = 13;


const ELEMENT_TYPE_BY_CODE = new Map<number, ElementType>(
  Object.entries(DATA_TYPE).map(([name, code]) => [code, name as ElementType]),
);

type LongLike = number | { toNumber(): number } | null | undefined;

const toNumber = (v: LongLike): number => (v == null ? 0 : typeof v === 'number' ? v : v.toNumber());

interface DecodedValueInfo {
  name?: string;
  type?: {
    tensorType?: { elemType?: number; shape?: { dim?: { dimValue?: LongLike; dimParam?: string }[] } };
    sequenceType?: Uint8Array;
    mapType?: Uint8Array;
    sparseTensorType?: Uint8Array;
    optionalType?: Uint8Array;
  };
}

interface DecodedModel {
  irVersion?: LongLike;
  producerName?: string;
  producerVersion?: string;
  opsetImport?: { domain?: string; version?: LongLike }[];
  metadataProps?: { key?: string; value?: string }[];
  graph?: {
    input?: DecodedValueInfo[];
    output?: DecodedValueInfo[];
    initializer?: { name?: string }[];
  };
}

const invalid = (message: string) => new EdgefleetError('INVALID_MODEL', message);

function tensorSpec(info: DecodedValueInfo, role: 'input' | 'output'): TensorSpec {
  const name = info.name ?? '';
  if (name === '') throw invalid(`a graph ${role} has no name`);
  const tensor = info.type?.tensorType;
  if (!tensor) {
    const kind = info.type?.sequenceType
      ? 'a sequence'
      : info.type?.mapType
        ? 'a map'
        : info.type?.sparseTensorType
          ? 'a sparse tensor'
          : info.type?.optionalType
            ? 'an optional'
            : 'of unknown type';
    throw invalid(`${role} ${name} is ${kind}; only dense tensors are served`);
  }
  const type = ELEMENT_TYPE_BY_CODE.get(tensor.elemType ?? 0);
  if (type === undefined) throw invalid(`${role} ${name} has unsupported element type ${tensor.elemType ?? 0}`);
  // No shape at all means unknown rank, which neither the OIP metadata nor the self-test can describe.
  if (!tensor.shape) throw invalid(`${role} ${name} has no shape (unknown rank)`);
  // dim_value and dim_param are a oneof; many exporters write neither (or an empty dim_param) for a
  // dynamic dim. protobufjs puts field defaults (dimValue 0) on the prototype, so only an own property
  // means the field was on the wire: an unset dim_value is a variable dim, not a 0-sized one.
  const shape: Dim[] = (tensor.shape.dim ?? []).map((d) => {
    if (d.dimParam) return d.dimParam;
    if (Object.hasOwn(d, 'dimValue') && d.dimValue != null) return toNumber(d.dimValue);
    return UNNAMED_DIM;
  });
  return { name, type, shape };
}

/**
 * Read what a model declares. Throws `NOT_ONNX` when the bytes are not a ModelProto (including truncated
 * files), `INVALID_MODEL` when they are but lack a graph or opset_import, use an IR version outside
 * [MIN_IR_VERSION, MAX_IR_VERSION], or declare IO that edgefleet cannot serve.
 */
export function readModelInfo(bytes: Uint8Array): ModelInfo {
  if (bytes.length === 0) throw new EdgefleetError('NOT_ONNX', 'empty file');
  let model: DecodedModel;
  try {
    model = ModelProto.decode(bytes) as unknown as DecodedModel;
  } catch (err) {
    // protobufjs throws on truncation and malformed wire data
    throw new EdgefleetError('NOT_ONNX', `not an ONNX model: ${(err as Error).message}`, { cause: err });
  }
  const irVersion = toNumber(model.irVersion);
  if (!model.graph) {
    // Unknown bytes can decode as an empty message with skipped fields: nothing ONNX about them.
    if (irVersion === 0) throw new EdgefleetError('NOT_ONNX', 'not an ONNX model: no ir_version and no graph');
    throw invalid('the model has no graph');
  }
  if (irVersion < MIN_IR_VERSION || irVersion > MAX_IR_VERSION) {
    throw invalid(`IR version ${irVersion} is outside the supported range ${MIN_IR_VERSION}..${MAX_IR_VERSION}`);
  }
  const opsets: Record<string, number> = {};
  for (const op of model.opsetImport ?? []) {
    // 'ai.onnx' is an alias of the default domain
    const domain = op.domain === 'ai.onnx' ? '' : (op.domain ?? '');
    opsets[domain] = toNumber(op.version);
  }
  if (!('' in opsets)) throw invalid('the model imports no default-domain opset');
  const metadata: Record<string, string> = {};
  for (const entry of model.metadataProps ?? []) {
    if (entry.key) metadata[entry.key] = entry.value ?? '';
  }
  const initializers = new Set((model.graph.initializer ?? []).map((t) => t.name ?? ''));
  const inputs = (model.graph.input ?? [])
    .filter((i) => !initializers.has(i.name ?? ''))
    .map((i) => tensorSpec(i, 'input'));
  const outputs = (model.graph.output ?? []).map((o) => tensorSpec(o, 'output'));
  if (outputs.length === 0) throw invalid('the graph has no outputs');
  return {
    irVersion,
    opsets,
    producer: model.producerName ?? '',
    producerVersion: model.producerVersion ?? '',
    metadata,
    inputs,
    outputs,
  };
}
