// `--validation FILE.jsonl`: parse the rows, run them through onnxruntime in batches, and collect what
// model push needs from the run (design §7): predictions for accuracy, per-row latency, output values.

import { z } from 'zod';
import type * as ort from 'onnxruntime-node';
import {
  EdgefleetError,
  concatData,
  describeZodError,
  elementCount,
  encodeValues,
  flattenNested,
  halfToFloat,
  isFloatType,
  type Tensor,
  type TensorSpec,
  type TypedData,
} from '@edgefleet/protocol';
import { fromOrtValue, oneLine, toOrtTensor } from './ort-tensors.js';

/** Rows per onnxruntime call when the batch axis is symbolic. */
export const VALIDATION_BATCH = 64;

const ValidationLine = z.object({
  inputs: z.record(z.string(), z.unknown()),
  label: z.union([z.number().int().min(0), z.string().min(1).max(128)]).optional(),
});

export interface ValidationRow {
  /** 1-based line number in the JSONL text, for messages. */
  line: number;
  /** One entry per model input: the row without its batch axis. */
  inputs: Record<string, { shape: number[]; data: TypedData }>;
  /** Class index (label names are resolved against the model's labels). */
  label?: number;
}

export interface ValidationBatch {
  rows: ValidationRow[];
  feeds: Record<string, Tensor>;
}

function lineError(line: number, message: string): EdgefleetError {
  return new EdgefleetError('BAD_INPUT', `validation line ${line}: ${message}`);
}

/** Each input must have a batch axis first: symbolic (batched runs) or 1 (row by row). */
export function batchAxisOf(specs: readonly TensorSpec[]): 'symbolic' | 'one' {
  let axis: 'symbolic' | 'one' = 'symbolic';
  for (const spec of specs) {
    const first = spec.shape[0];
    if (first === undefined || (typeof first === 'number' && first !== 1)) {
      throw new EdgefleetError(
        'BAD_INPUT',
        `validation needs a batch axis first on every input; "${spec.name}" has shape [${spec.shape.join(', ')}]`,
      );
    }
    if (first === 1) axis = 'one';
  }
  return axis;
}

/** Fit one row's nested or flat values to the input's shape without its batch axis. */
function rowShape(spec: TensorSpec, nested: number[], count: number, line: number): number[] {
  const want = spec.shape.slice(1);
  if (nested.length === want.length) {
    want.forEach((d, i) => {
      if (typeof d === 'number' && d !== nested[i]) {
        throw lineError(line, `input "${spec.name}" row has shape [${nested.join(', ')}], the model wants [${want.join(', ')}]`);
      }
    });
    return nested;
  }
  if (nested.length === 1 && want.length > 1) {
    // a flat row for a higher-rank input: at most one symbolic dim, inferred from the length
    const fixed = elementCount(want.filter((d): d is number => typeof d === 'number'));
    const symbolic = want.filter((d) => typeof d === 'string').length;
    if (symbolic === 0 && count === fixed) return want as number[];
    if (symbolic === 1 && fixed > 0 && count % fixed === 0) return want.map((d) => (typeof d === 'number' ? d : count / fixed));
  }
  throw lineError(line, `input "${spec.name}" row has shape [${nested.join(', ')}], the model wants [${want.join(', ')}] per row`);
}

/**
 * Parse JSONL validation text: one `{"inputs": {"<input>": <row>}, "label": <index or name>}` per
 * non-empty line. Refuses the first malformed line with BAD_INPUT naming its number.
 */
export function parseValidation(text: string, specs: readonly TensorSpec[], labels: readonly string[] | undefined): ValidationRow[] {
  const rows: ValidationRow[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const source = lines[i]!.trim();
    if (source === '') continue;
    const line = i + 1;
    let json: unknown;
    try {
      json = JSON.parse(source);
    } catch (err) {
      throw lineError(line, `not JSON (${(err as Error).message})`);
    }
    const parsed = ValidationLine.safeParse(json);
    if (!parsed.success) throw lineError(line, describeZodError(parsed.error));
    const row: ValidationRow = { line, inputs: {} };
    for (const name of Object.keys(parsed.data.inputs)) {
      if (!specs.some((s) => s.name === name)) throw lineError(line, `"${name}" is not a model input`);
    }
    for (const spec of specs) {
      if (!(spec.name in parsed.data.inputs)) throw lineError(line, `missing input "${spec.name}"`);
      const flat = flattenNested(parsed.data.inputs[spec.name]);
      if (typeof flat === 'string') throw lineError(line, `input "${spec.name}": ${flat}`);
      const shape = rowShape(spec, flat.shape, flat.values.length, line);
      let data: TypedData;
      try {
        data = encodeValues(spec.type, flat.values, `validation line ${line} input "${spec.name}"`);
      } catch (err) {
        throw err instanceof EdgefleetError ? err : lineError(line, String(err));
      }
      row.inputs[spec.name] = { shape, data };
    }
    const label = parsed.data.label;
    if (typeof label === 'number') row.label = label;
    else if (typeof label === 'string') {
      const index = labels?.indexOf(label) ?? -1;
      if (index < 0) {
        throw lineError(line, labels === undefined ? `label "${label}" is a name but the model has no labels` : `unknown label "${label}"`);
      }
      row.label = index;
    }
    rows.push(row);
  }
  if (rows.length === 0) throw new EdgefleetError('BAD_INPUT', 'validation data has no rows');
  return rows;
}

/** Group consecutive rows with equal row shapes into batches (one row per batch when the batch dim is 1). */
export function batchRows(rows: readonly ValidationRow[], specs: readonly TensorSpec[]): ValidationBatch[] {
  const max = batchAxisOf(specs) === 'symbolic' ? VALIDATION_BATCH : 1;
  const key = (r: ValidationRow) => specs.map((s) => r.inputs[s.name]!.shape.join('x')).join('|');
  const batches: ValidationBatch[] = [];
  let current: ValidationRow[] = [];
  const flush = () => {
    if (current.length === 0) return;
    const feeds: Record<string, Tensor> = {};
    for (const spec of specs) {
      const parts = current.map((r) => r.inputs[spec.name]!);
      feeds[spec.name] = { type: spec.type, dims: [current.length, ...parts[0]!.shape], data: concatData(spec.type, parts.map((p) => p.data)) };
    }
    batches.push({ rows: current, feeds });
    current = [];
  };
  for (const row of rows) {
    if (current.length >= max || (current.length > 0 && key(current[0]!) !== key(row))) flush();
    current.push(row);
  }
  flush();
  return batches;
}

/** Which output says what the model predicted, found on the first batch's outputs. */
export type PredictionOutput =
  | { kind: 'classifier'; output: string; indices: boolean; classes: number | null }
  | { kind: 'regressor'; output: string }
  | { kind: 'none' };

/**
 * The first float output shaped [batch, C ≥ 2] is a classifier's scores (argmax); else the first
 * integer output shaped [batch] holds class indices; else the first float output shaped [batch] or
 * [batch, 1] is a regressor's value. Decided from real output dims, since graphs often leave shapes open.
 */
export function findPredictionOutput(outputs: Record<string, Tensor>, order: readonly string[], batch: number): PredictionOutput {
  for (const name of order) {
    const t = outputs[name]!;
    if (isFloatType(t.type) && t.dims.length === 2 && t.dims[0] === batch && t.dims[1]! >= 2) {
      return { kind: 'classifier', output: name, indices: false, classes: t.dims[1]! };
    }
  }
  for (const name of order) {
    const t = outputs[name]!;
    if ((t.type === 'int64' || t.type === 'int32') && t.dims.length === 1 && t.dims[0] === batch) {
      return { kind: 'classifier', output: name, indices: true, classes: null };
    }
  }
  for (const name of order) {
    const t = outputs[name]!;
    if (isFloatType(t.type) && t.dims[0] === batch && (t.dims.length === 1 || (t.dims.length === 2 && t.dims[1] === 1))) {
      return { kind: 'regressor', output: name };
    }
  }
  return { kind: 'none' };
}

/** Per-row prediction from the prediction output: argmax class, class index, or value. */
function predictions(t: Tensor, p: PredictionOutput, rows: number): number[] {
  const out = new Array<number>(rows);
  if (p.kind === 'classifier' && !p.indices) {
    const c = t.dims[1]!;
    const data = t.type === 'float16' ? Float32Array.from(t.data as Uint16Array, halfToFloat) : (t.data as Float32Array | Float64Array);
    for (let r = 0; r < rows; r++) {
      let best = 0;
      for (let k = 1; k < c; k++) if (data[r * c + k]! > data[r * c + best]!) best = k;
      out[r] = best;
    }
  } else {
    const data = t.type === 'float16' ? Float32Array.from(t.data as Uint16Array, halfToFloat) : (t.data as ArrayLike<number | bigint>);
    for (let r = 0; r < rows; r++) out[r] = Number(data[r]!);
  }
  return out;
}

export interface ValidationRun {
  prediction: PredictionOutput;
  /** One per row, in row order: argmax class / class index / regressor value (empty when kind is none). */
  predicted: number[];
  /** Milliseconds per row: each batch's wall time split evenly over its rows. */
  latencyMs: number[];
}

/** Run every batch, timing each `session.run`. A failing batch is BAD_INPUT naming its lines. */
export async function runValidation(session: ort.InferenceSession, batches: readonly ValidationBatch[], outputOrder: readonly string[]): Promise<ValidationRun> {
  let prediction: PredictionOutput | undefined;
  const predicted: number[] = [];
  const latencyMs: number[] = [];
  for (const batch of batches) {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(batch.feeds)) feeds[name] = toOrtTensor(t);
    const n = batch.rows.length;
    let results: ort.InferenceSession.ReturnType;
    const start = performance.now();
    try {
      results = await session.run(feeds);
    } catch (err) {
      const lines = n === 1 ? `line ${batch.rows[0]!.line}` : `lines ${batch.rows[0]!.line}–${batch.rows[n - 1]!.line}`;
      throw new EdgefleetError('BAD_INPUT', `validation ${lines}: onnxruntime failed: ${oneLine(err)}`, { cause: err });
    }
    const elapsed = performance.now() - start;
    for (let r = 0; r < n; r++) latencyMs.push(elapsed / n);
    const outputs: Record<string, Tensor> = {};
    for (const name of outputOrder) outputs[name] = fromOrtValue(name, results[name]);
    prediction ??= findPredictionOutput(outputs, outputOrder, n);
    if (prediction.kind !== 'none') {
      const t = outputs[prediction.output]!;
      if (t.dims[0] !== n) throw new EdgefleetError('BAD_INPUT', `validation: output "${prediction.output}" has ${t.dims[0]} rows for a batch of ${n}`);
      predicted.push(...predictions(t, prediction, n));
    }
  }
  return { prediction: prediction ?? { kind: 'none' }, predicted, latencyMs };
}

/** The q-quantile (0..1) of values, nearest-rank on sorted data. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
