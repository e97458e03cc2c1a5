// Explaining one prediction on the device (design §5 `explain`): per-feature Shapley attributions of one
// row of a tabular input against a baseline (the manifest reference's central values, or the caller's).
// Up to EXPLAIN_LIMITS.exactFeatures features every coalition is evaluated, as one batched run; beyond,
// permutations are sampled (seeded). No telemetry and no prediction record: coalition rows are not traffic.
// The steps: input → features → baseline → target → rows → evaluate → attribute.

import {
  DEFAULT_EXPLAIN_SAMPLES,
  DEFAULT_EXPLAIN_SEED,
  EXPLAIN_LIMITS,
  EdgefleetError,
  concatData,
  createRng,
  formatShape,
  referenceMedian,
  type ExplainOptions,
  type ExplainedFeature,
  type Manifest,
  type OipExplainResponse,
  type ReferenceFeature,
  type Tensor,
  type TensorSpec,
} from '@edgefleet/protocol';
import type { ModelSession } from './runtime.js';
import { coalitionCount, exactShapley, sampledShapley, samplePermutations } from './shapley.js';

/** What an explanation reads of a model: its declared IO, its drift reference and class labels. */
export type ExplainedModel = Pick<Manifest, 'io' | 'reference' | 'labels'>;

/** The attribution part of an explanation; the caller adds model_name, model_version and id. */
export type Explanation = Omit<OipExplainResponse, 'model_name' | 'model_version' | 'id'>;

export interface ExplainLimits {
  /** Rows per run (default EXPLAIN_LIMITS.batchRows). */
  batchRows?: number;
  /** Rows per explanation (default EXPLAIN_LIMITS.evaluations). */
  evaluations?: number;
}

type FloatData = Float32Array | Float64Array;

const bad = (message: string): EdgefleetError => new EdgefleetError('BAD_INPUT', message);

/** Reference features read from one position of a tabular input, by position. */
function referenceByIndex(model: ExplainedModel, input: string): Map<number, ReferenceFeature> {
  const out = new Map<number, ReferenceFeature>();
  for (const f of model.reference?.features ?? []) {
    const s = f.source;
    if (s.input === input && s.index !== undefined && s.reduce === undefined && s.channel === undefined) out.set(s.index, f);
  }
  return out;
}

/** Step 1: the explained input — named, else the one the reference reads tabular features from, else the only float input. */
function pickInput(model: ExplainedModel, options: ExplainOptions): TensorSpec {
  const inputs = model.io.inputs;
  if (options.input !== undefined) {
    const spec = inputs.find((s) => s.name === options.input);
    if (!spec) throw bad(`unknown input '${options.input}' (model inputs: ${inputs.map((s) => s.name).join(', ')})`);
    return spec;
  }
  const tabular = inputs.filter((s) => (s.type === 'float32' || s.type === 'float64') && s.shape.length === 2);
  const referenced = tabular.filter((s) => referenceByIndex(model, s.name).size > 0);
  const candidates = referenced.length > 0 ? referenced : tabular;
  if (candidates.length !== 1) {
    throw bad(
      candidates.length === 0
        ? `the model has no tabular float input [batch, features] to explain (inputs: ${inputs.map((s) => `${s.name} ${s.type} ${formatShape(s.shape)}`).join(', ')})`
        : `the model has several tabular inputs (${candidates.map((s) => s.name).join(', ')}); name one in parameters.input`,
    );
  }
  return candidates[0]!;
}

interface Row {
  spec: TensorSpec;
  x: FloatData;
  k: number;
  /** Rows per run the model takes: 1 when its batch dim is fixed at 1. */
  batchRows: number;
}

/** The explained input's one row, checked: float [1, k] under a batch dim that is variable or 1. */
function readRow(spec: TensorSpec, feeds: Record<string, Tensor>, limits: ExplainLimits): Row {
  const label = `input '${spec.name}'`;
  if (spec.type !== 'float32' && spec.type !== 'float64') throw bad(`${label} is ${spec.type}; explanations are for float features`);
  if (spec.shape.length !== 2) throw bad(`${label} has shape ${formatShape(spec.shape)}; explanations are for tabular inputs [batch, features]`);
  const lead = spec.shape[0]!;
  if (typeof lead === 'number' && lead !== 1) throw bad(`${label} has a fixed batch of ${lead}; explanations need a variable batch dim or 1`);
  const t = feeds[spec.name];
  if (!t) throw bad(`missing input '${spec.name}'`);
  if (t.type !== spec.type) throw bad(`${label} is ${t.type}, model expects ${spec.type}`);
  if (t.dims.length !== 2 || t.dims[0] !== 1) throw bad(`${label} has shape ${formatShape(t.dims)}; an explanation is of one row [1, features]`);
  const k = t.dims[1]!;
  const width = spec.shape[1]!;
  if (typeof width === 'number' && width !== k) throw bad(`${label} has ${k} features, model expects ${width}`);
  if (k === 0) throw bad(`${label} has no features`);
  if (k > EXPLAIN_LIMITS.features) throw bad(`${label} has ${k} features, over the cap of ${EXPLAIN_LIMITS.features} per explanation`);
  if (t.data.length !== k) throw bad(`${label} has ${t.data.length} values for shape ${formatShape(t.dims)}`);
  return { spec, x: t.data as FloatData, k, batchRows: typeof lead === 'number' ? 1 : (limits.batchRows ?? EXPLAIN_LIMITS.batchRows) };
}

/** Step 2: feature names — the reference's where it reads that position, else `input[i]`. */
function featureNames(model: ExplainedModel, row: Row): string[] {
  const byIndex = referenceByIndex(model, row.spec.name);
  return Array.from({ length: row.k }, (_, i) => byIndex.get(i)?.name ?? `${row.spec.name}[${i}]`);
}

/** Step 3: the baseline — explicit values, else the reference's mean (or median) per feature. */
function resolveBaseline(model: ExplainedModel, row: Row, names: string[], option: ExplainOptions['baseline']): Float64Array {
  const out = new Float64Array(row.k);
  if (Array.isArray(option)) {
    if (option.length !== row.k) throw bad(`baseline has ${option.length} values for ${row.k} features`);
    out.set(option);
    return out;
  }
  const byIndex = referenceByIndex(model, row.spec.name);
  const given = typeof option === 'object' ? option : {};
  for (const name of Object.keys(given)) if (!names.includes(name)) throw bad(`baseline names unknown feature '${name}' (features: ${names.join(', ')})`);
  const centre = option === 'median' ? 'median' : 'mean';
  const missing: string[] = [];
  for (let i = 0; i < row.k; i++) {
    const name = names[i]!;
    const explicit = Object.hasOwn(given, name) ? given[name] : undefined;
    const ref = byIndex.get(i);
    if (explicit !== undefined) out[i] = explicit;
    else if (ref !== undefined) out[i] = centre === 'median' ? referenceMedian(ref) : ref.mean;
    else missing.push(name);
  }
  if (missing.length > 0) {
    throw bad(`no reference baseline for feature${missing.length > 1 ? 's' : ''} ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', …' : ''}; send parameters.baseline`);
  }
  return out;
}

interface TargetChoice {
  output: TensorSpec;
  kind: 'class' | 'value' | null;
}

/** Step 4: the explained output — named, else the reference's, else the first float output; its kind where the reference says. */
function pickOutput(model: ExplainedModel, options: ExplainOptions): TargetChoice {
  const outputs = model.io.outputs;
  const ref = model.reference?.output;
  const name = options.output ?? (ref !== undefined && !(ref.kind === 'classifier' && ref.indices) ? ref.output : outputs.find((o) => o.type === 'float32' || o.type === 'float64')?.name);
  const output = outputs.find((o) => o.name === name);
  if (name === undefined || output === undefined) {
    throw bad(name === undefined ? 'the model has no float output to explain' : `unknown output '${name}' (model outputs: ${outputs.map((o) => o.name).join(', ')})`);
  }
  if (output.type !== 'float32' && output.type !== 'float64') throw bad(`output '${output.name}' is ${output.type}; explanations attribute a float score (name a float output)`);
  const kind = ref !== undefined && ref.output === output.name ? (ref.kind === 'classifier' ? 'class' : 'value') : null;
  return { output, kind };
}

/** Tile one row of an input that shares the batch dim to `rows` rows; other inputs go in as they are. */
function tiledFeeds(feeds: Record<string, Tensor>, model: ExplainedModel, row: Row, rows: number): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  const lead = row.spec.shape[0];
  for (const spec of model.io.inputs) {
    if (spec.name === row.spec.name) continue;
    const t = feeds[spec.name];
    if (!t) throw bad(`missing input '${spec.name}'`);
    if (typeof lead === 'string' && spec.shape[0] === lead && rows !== 1) {
      if (t.dims[0] !== 1) throw bad(`input '${spec.name}' has ${t.dims[0]} rows; an explanation is of one row`);
      out[spec.name] = { type: t.type, dims: [rows, ...t.dims.slice(1)], data: concatData(t.type, new Array(rows).fill(t.data)) };
    } else out[spec.name] = t;
  }
  return out;
}

/** Step 6: run the rows in batches of `row.batchRows`; the output rows, concatenated, and how many runs it took. */
async function evaluate(
  session: Pick<ModelSession, 'run'>,
  model: ExplainedModel,
  feeds: Record<string, Tensor>,
  row: Row,
  rows: FloatData,
  output: string,
): Promise<{ data: Float64Array; width: number; runs: number }> {
  const total = rows.length / row.k;
  const chunk = Math.min(row.batchRows, total);
  const others = tiledFeeds(feeds, model, row, chunk);
  let data: Float64Array | null = null;
  let width = 0;
  let runs = 0;
  for (let start = 0; start < total; start += chunk) {
    const n = Math.min(chunk, total - start);
    const part = rows.subarray(start * row.k, (start + n) * row.k);
    const inputs = n === chunk ? others : tiledFeeds(feeds, model, row, n);
    const result = await session.run({ ...inputs, [row.spec.name]: { type: row.spec.type, dims: [n, row.k], data: part } }, [output]);
    runs++;
    const t = result[output];
    if (!t || t.data.length % n !== 0 || t.dims[0] !== n) {
      throw new EdgefleetError('INFERENCE_FAILED', `output '${output}' of ${n} rows came back with shape ${formatShape(t?.dims ?? [])}; it must lead with the batch`);
    }
    if (data === null) {
      width = t.data.length / n;
      if (width === 0) throw bad(`output '${output}' is empty`);
      data = new Float64Array(total * width);
    }
    data.set(t.data as FloatData, start * width);
  }
  return { data: data!, width, runs };
}

/** Step 5 (after the run: the row width is known): the element of the output row explained. */
function pickTarget(model: ExplainedModel, choice: TargetChoice, width: number, fx: Float64Array, option: ExplainOptions['target']): Explanation['target'] {
  const kind = choice.kind ?? (width === 1 ? 'value' : 'class');
  const labels = model.labels !== undefined && model.labels.length === width ? model.labels : undefined;
  let index: number;
  if (typeof option === 'string') {
    index = kind === 'class' && labels ? labels.indexOf(option) : -1;
    if (index < 0) throw bad(`target '${option}' is not a class label of output '${choice.output.name}'${labels ? ` (labels: ${labels.slice(0, 16).join(', ')})` : ''}`);
  } else if (option !== undefined) {
    if (option >= width) throw bad(`target ${option} is beyond output '${choice.output.name}', whose rows have ${width} elements`);
    index = option;
  } else if (kind === 'class') {
    index = 0;
    for (let i = 1; i < width; i++) if (fx[i]! > fx[index]!) index = i;
  } else index = 0;
  const label = kind === 'class' ? labels?.[index] : undefined;
  return { output: choice.output.name, index, kind, ...(label !== undefined ? { label } : {}) };
}

/** Row r of an exact explanation: feature i from x when bit i of r is set, else from the baseline. */
function coalitionRows(row: Row, baseline: Float64Array): FloatData {
  const { k, x } = row;
  const n = coalitionCount(k);
  const out = row.spec.type === 'float64' ? new Float64Array(n * k) : new Float32Array(n * k);
  for (let m = 0; m < n; m++) {
    const at = m * k;
    for (let i = 0; i < k; i++) out[at + i] = m & (1 << i) ? x[i]! : baseline[i]!;
  }
  return out;
}

/** Rows of a sampled explanation: the baseline, x, then each permutation's proper non-empty prefixes. */
function permutationRows(row: Row, baseline: Float64Array, perms: Uint16Array, samples: number): FloatData {
  const { k, x } = row;
  const n = 2 + samples * (k - 1);
  const out = row.spec.type === 'float64' ? new Float64Array(n * k) : new Float32Array(n * k);
  out.set(baseline, 0);
  out.set(x, k);
  const current = new Float64Array(k);
  let at = 2 * k;
  for (let p = 0; p < samples; p++) {
    current.set(baseline);
    for (let j = 0; j < k - 1; j++) {
      const f = perms[p * k + j]!;
      current[f] = x[f]!;
      out.set(current, at);
      at += k;
    }
  }
  return out;
}

/** The target's value in every evaluated row. */
function column(data: Float64Array, width: number, index: number): Float64Array {
  const n = data.length / width;
  const out = new Float64Array(n);
  for (let r = 0; r < n; r++) out[r] = data[r * width + index]!;
  return out;
}

/**
 * Explain one prediction of `model` (its IO and reference) run by `session`. `feeds` hold one row of the
 * explained input (and of any input sharing its batch dim). Throws BAD_INPUT for what cannot be explained,
 * TOO_LARGE for a sampled explanation over the evaluation cap, INFERENCE_FAILED when a run fails.
 */
export async function explainPrediction(
  session: Pick<ModelSession, 'run'>,
  model: ExplainedModel,
  feeds: Record<string, Tensor>,
  options: ExplainOptions = {},
  limits: ExplainLimits = {},
): Promise<Explanation> {
  const spec = pickInput(model, options);
  const row = readRow(spec, feeds, limits);
  const names = featureNames(model, row);
  const baseline = resolveBaseline(model, row, names, options.baseline);
  const choice = pickOutput(model, options);
  const method = options.method === undefined || options.method === 'auto' ? (row.k <= EXPLAIN_LIMITS.exactFeatures ? 'exact' : 'sampled') : options.method;
  if (method === 'exact' && row.k > EXPLAIN_LIMITS.exactFeatures) {
    throw bad(`exact Shapley values are computed for up to ${EXPLAIN_LIMITS.exactFeatures} features (2^${EXPLAIN_LIMITS.exactFeatures} coalitions); this input has ${row.k}: use method 'sampled'`);
  }
  const maxEvaluations = limits.evaluations ?? EXPLAIN_LIMITS.evaluations;
  const samples = options.samples ?? DEFAULT_EXPLAIN_SAMPLES;
  const seed = options.seed ?? DEFAULT_EXPLAIN_SEED;
  const perms = method === 'sampled' ? samplePermutations(row.k, samples, createRng(seed)) : null;
  const evaluations = perms === null ? coalitionCount(row.k) : 2 + samples * (row.k - 1);
  if (evaluations > maxEvaluations) {
    throw new EdgefleetError('TOO_LARGE', `${samples} permutations of ${row.k} features need ${evaluations} model evaluations, over the cap of ${maxEvaluations}; ask for fewer samples`);
  }
  const rows = perms === null ? coalitionRows(row, baseline) : permutationRows(row, baseline, perms, samples);
  const { data, width, runs } = await evaluate(session, model, feeds, row, rows, choice.output.name);

  const fullRow = perms === null ? evaluations - 1 : 1;
  const target = pickTarget(model, choice, width, data.subarray(fullRow * width, (fullRow + 1) * width), options.target);
  const v = column(data, width, target.index);
  const value = v[fullRow]!;
  const baseValue = v[0]!;
  let phi: Float64Array;
  let standardError: Float64Array | null = null;
  if (perms === null) phi = exactShapley(v, row.k);
  else ({ phi, standardError } = sampledShapley(perms, row.k, v.subarray(2), baseValue, value));
  const features: ExplainedFeature[] = names.map((name, i) => ({
    name,
    input: spec.name,
    index: i,
    value: row.x[i]!,
    baseline: baseline[i]!,
    attribution: phi[i]!,
    ...(standardError !== null ? { standard_error: standardError[i]! } : {}),
  }));
  return {
    method,
    target,
    value,
    base_value: baseValue,
    features,
    ...(perms !== null ? { samples, seed } : {}),
    evaluations,
    runs,
  };
}
