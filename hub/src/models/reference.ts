// The drift reference of design §6, derived from validation inputs and predictions when the operator
// gives none; the feature values are read with the protocol's `extractFeatureValues`, exactly as agents read them.

import {
  buildReferenceFeature,
  describeZodError,
  EdgefleetError,
  extractFeatureValues,
  halfToFloat,
  isFloatType,
  Reference,
  type FeatureSource,
  type ReferenceFeature,
  type ReferenceOutput,
  type Tensor,
  type TensorSpec,
} from '@edgefleet/protocol';
import { parseJsonOption } from './sample.js';
import type { PredictionOutput, ValidationBatch, ValidationRun } from './validation.js';

/** Bins per reference feature: buildReferenceFeature puts edges at the deciles, so ≤ 9 edges and ≤ 10 counts (under/overflow included). */
export const REFERENCE_BINS = 10;
/** Tabular inputs up to this many columns get one feature per column; wider ones a row mean. */
export const MAX_COLUMN_FEATURES = 64;
/** The schema's cap on features per reference. */
const MAX_FEATURES = 256;

/** Parse and check an operator-supplied reference: schema, and every source names a real input/output. */
export function parseReference(raw: unknown, io: { inputs: readonly TensorSpec[]; outputs: readonly TensorSpec[] }): Reference {
  const parsed = Reference.safeParse(parseJsonOption(raw, 'reference'));
  if (!parsed.success) throw new EdgefleetError('BAD_INPUT', `reference is invalid: ${describeZodError(parsed.error)}`);
  for (const f of parsed.data.features) {
    if (!io.inputs.some((s) => s.name === f.source.input)) {
      throw new EdgefleetError('BAD_INPUT', `reference feature "${f.name}" reads "${f.source.input}", which is not a model input`);
    }
    if (f.counts.length !== f.edges.length + 1) {
      throw new EdgefleetError('BAD_INPUT', `reference feature "${f.name}" has ${f.counts.length} counts for ${f.edges.length} edges (want edges + 1)`);
    }
  }
  const out = parsed.data.output;
  if (out !== undefined && !io.outputs.some((s) => s.name === out.output)) {
    throw new EdgefleetError('BAD_INPUT', `reference output "${out.output}" is not a model output`);
  }
  return parsed.data;
}

/** A names list in model metadata_props: a JSON array of strings or a comma-separated list. */
export function parseNameList(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (text.startsWith('[')) {
    try {
      const json: unknown = JSON.parse(text);
      if (Array.isArray(json) && json.every((x) => typeof x === 'string')) return json.map((s) => s.trim());
    } catch {
      // fall through to the comma list
    }
  }
  const names = text.split(',').map((s) => s.trim());
  return names.every((s) => s !== '') ? names : undefined;
}

/**
 * Column names for a tabular input from metadata_props: `feature_names.<input>`, or `feature_names`
 * when the model has a single float input (JSON array or comma list); used only when the count matches.
 */
function columnNames(input: string, columns: number, floatInputs: number, metadata: Record<string, string>): string[] | undefined {
  const names = parseNameList(metadata[`feature_names.${input}`] ?? (floatInputs === 1 ? metadata['feature_names'] : undefined));
  return names !== undefined && names.length === columns ? names : undefined;
}

/** Which features to monitor for each float input, from its batched dims (axis 0 is the batch). */
export function planFeatures(
  specs: readonly TensorSpec[],
  dimsOf: (input: string) => readonly number[],
  metadata: Record<string, string>,
): { name: string; source: FeatureSource }[] {
  const floats = specs.filter((s) => isFloatType(s.type));
  const plan: { name: string; source: FeatureSource }[] = [];
  for (const spec of floats) {
    const input = spec.name;
    const dims = dimsOf(input);
    if (dims.length <= 1) {
      plan.push({ name: input, source: { input, index: 0 } });
    } else if (dims.length === 2 && dims[1]! <= MAX_COLUMN_FEATURES) {
      const names = columnNames(input, dims[1]!, floats.length, metadata);
      for (let j = 0; j < dims[1]!; j++) {
        plan.push({ name: names !== undefined ? `${input}.${names[j]!}` : `${input}[${j}]`, source: { input, index: j } });
      }
    } else if (dims.length >= 3 && dims[1]! <= MAX_COLUMN_FEATURES) {
      // images/audio: per-channel mean over axis 1 (design §6 "summary statistics the manifest names")
      for (let c = 0; c < dims[1]!; c++) plan.push({ name: `${input}.mean[${c}]`, source: { input, reduce: 'mean', channel: c } });
    } else {
      plan.push({ name: `${input}.mean`, source: { input, reduce: 'mean' } });
    }
  }
  return plan.slice(0, MAX_FEATURES).map((p) => ({ ...p, name: p.name.slice(0, 128) }));
}

function numericData(t: Tensor): ArrayLike<number | bigint | boolean> {
  return t.type === 'float16' ? Float32Array.from(t.data as Uint16Array, halfToFloat) : (t.data as ArrayLike<number>);
}

/**
 * Reference from validation data: one feature per planned source, with REFERENCE_BINS quantile bins,
 * plus the output mix of the predictions (classifier class counts, or regressor value bins).
 * Features with no finite value on any row are left out (nothing to compare against).
 */
export function deriveReference(
  specs: readonly TensorSpec[],
  batches: readonly ValidationBatch[],
  run: ValidationRun,
  metadata: Record<string, string>,
  classCount: number | null,
): Reference {
  const first = batches[0]!;
  const plan = planFeatures(specs, (input) => first.feeds[input]!.dims, metadata);
  const features: ReferenceFeature[] = [];
  for (const { name, source } of plan) {
    const values: number[] = [];
    for (const batch of batches) {
      const t = batch.feeds[source.input]!;
      for (const v of extractFeatureValues(source, t.dims, numericData(t))) if (v !== null) values.push(v);
    }
    if (values.length > 0) features.push(buildReferenceFeature(name, source, values, REFERENCE_BINS));
  }
  const rows = batches.reduce((n, b) => n + b.rows.length, 0);
  const reference: Reference = { n: rows, features };
  const output = outputReference(run.prediction, run.predicted, classCount);
  if (output !== undefined) reference.output = output;
  return reference;
}

function outputReference(p: PredictionOutput, predicted: readonly number[], classCount: number | null): ReferenceOutput | undefined {
  if (p.kind === 'classifier') {
    const classes = Math.max(classCount ?? 0, p.classes ?? 0, ...predicted.map((k) => k + 1));
    const classCounts = new Array<number>(classes).fill(0);
    for (const k of predicted) if (k >= 0) classCounts[k]!++;
    return { kind: 'classifier', output: p.output, indices: p.indices, classCounts };
  }
  if (p.kind === 'regressor' && predicted.some((v) => Number.isFinite(v))) {
    const { edges, counts } = buildReferenceFeature('output', { input: p.output }, predicted, REFERENCE_BINS);
    return { kind: 'regressor', output: p.output, edges, counts };
  }
  return undefined;
}
