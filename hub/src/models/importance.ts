// Global feature importance at push (design §3 lineage): permutation importance on the validation rows —
// shuffle one reference feature's values across rows (seeded), run the model again, and measure how much
// its score drops. The features are the drift reference's tabular ones, under the same names the drift
// statistics, alarms and explanations use, so "temperature drifted" and "temperature matters" line up.
//
// Decisions:
// - Score: accuracy when the model is a classifier and rows carry labels; else agreement with the model's
//   own unshuffled predictions (the share of predictions a shuffle changes), and for a regressor the mean
//   squared change of its value (validation rows carry class labels, not regression targets).
// - Only features read by `index` (one element per row) are permuted; reduced ones (image channel means)
//   have no single value to shuffle and are left out.
// - Bounded cost: at most IMPORTANCE_LIMITS.rows rows (the first ones), and rows × features × repeats ≤
//   IMPORTANCE_LIMITS.evaluations row-evaluations — repeats are cut first (down to 1), then rows. With the
//   defaults a 12-feature model on 2 000 rows takes 3 repeats = 72 000 rows through onnxruntime.
// - Shares: each feature's positive mean drop over the sum of positive drops (a negative drop is chance);
//   when no feature's shuffle lowers the score there is no importance to report.

import { createRng, type FeatureImportance, type Reference, type TensorSpec, type TypedData } from '@edgefleet/protocol';
import type * as ort from 'onnxruntime-node';
import { batchRows, runValidation, type PredictionOutput, type ValidationRow } from './validation.js';

export const IMPORTANCE_LIMITS = { rows: 2000, repeats: 3, evaluations: 200_000, seed: 1 } as const;

export interface ImportanceInput {
  session: ort.InferenceSession;
  specs: readonly TensorSpec[];
  outputOrder: readonly string[];
  rows: readonly ValidationRow[];
  /** The unshuffled run's prediction output and per-row predictions (row order). */
  prediction: PredictionOutput;
  predicted: readonly number[];
  reference: Reference;
  limits?: Partial<typeof IMPORTANCE_LIMITS>;
}

type Score = (predicted: readonly number[]) => number;

/** The score a shuffle should lower, and its metric name; undefined when the model's output says nothing. */
function scoring(prediction: PredictionOutput, rows: readonly ValidationRow[], base: readonly number[]): { metric: FeatureImportance['metric']; score: Score } | undefined {
  if (prediction.kind === 'none') return undefined;
  if (prediction.kind === 'classifier') {
    const labelled = rows.flatMap((r, i) => (r.label === undefined ? [] : [i]));
    if (labelled.length > 0) {
      return { metric: 'accuracy', score: (p) => labelled.reduce((n, i) => n + (p[i] === rows[i]!.label ? 1 : 0), 0) / labelled.length };
    }
    return { metric: 'prediction-change', score: (p) => base.reduce((n: number, b, i) => n + (p[i] === b ? 1 : 0), 0) / base.length };
  }
  // regressor: the negative mean squared change, so that a drop is an increase in squared error
  return { metric: 'squared-change', score: (p) => -base.reduce((s: number, b, i) => s + (p[i]! - b) ** 2, 0) / base.length };
}

/** Fisher–Yates with a seeded generator: a permutation of 0..n-1. */
function permutation(n: number, rng: () => number): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = out[i]!;
    out[i] = out[j]!;
    out[j] = t;
  }
  return out;
}

/** The rows with element `index` of `input` taken from row order[r]; only that input's data is copied. */
function shuffled(rows: readonly ValidationRow[], input: string, index: number, order: Uint32Array): ValidationRow[] {
  return rows.map((row, r) => {
    const own = row.inputs[input]!;
    const data = own.data.slice() as TypedData;
    (data as unknown as unknown[])[index] = (rows[order[r]!]!.inputs[input]!.data as unknown as unknown[])[index];
    return { ...row, inputs: { ...row.inputs, [input]: { shape: own.shape, data } } };
  });
}

/** Permutation importance per tabular reference feature, or undefined when there is nothing to measure. */
export async function permutationImportance(q: ImportanceInput): Promise<FeatureImportance | undefined> {
  const limits = { ...IMPORTANCE_LIMITS, ...q.limits };
  const features = q.reference.features.filter((f) => {
    const s = f.source;
    if (s.index === undefined || s.reduce !== undefined || s.channel !== undefined) return false;
    const first = q.rows[0]?.inputs[s.input];
    return first !== undefined && s.index < first.data.length;
  });
  if (features.length === 0 || q.rows.length < 2) return undefined;
  let n = Math.min(q.rows.length, limits.rows);
  let repeats = Math.max(1, Math.min(limits.repeats, Math.floor(limits.evaluations / (n * features.length))));
  if (n * features.length * repeats > limits.evaluations) n = Math.max(2, Math.floor(limits.evaluations / features.length));
  const rows = q.rows.slice(0, n);
  const base = q.predicted.slice(0, n);
  const scored = scoring(q.prediction, rows, base);
  if (scored === undefined) return undefined;
  const baseScore = scored.score(base);

  const drops: number[] = [];
  for (const [k, f] of features.entries()) {
    let total = 0;
    for (let rep = 0; rep < repeats; rep++) {
      // one stream per (feature, repeat): a feature's result does not depend on which others are measured
      const rng = createRng((limits.seed * 1_000_003 + k * 7919 + rep * 104_729) >>> 0);
      const rowsOut = shuffled(rows, f.source.input, f.source.index!, permutation(n, rng));
      const run = await runValidation(q.session, batchRows(rowsOut, q.specs), q.outputOrder);
      total += baseScore - scored.score(run.predicted);
    }
    drops.push(total / repeats);
  }
  const positive = drops.map((d) => Math.max(0, d));
  const sum = positive.reduce((s, d) => s + d, 0);
  if (!(sum > 0)) return undefined;
  return {
    method: 'permutation',
    metric: scored.metric,
    rows: n,
    repeats,
    seed: limits.seed,
    features: features.map((f, k) => ({ name: f.name, drop: round6(drops[k]!), share: Math.round((positive[k]! / sum) * 10_000) / 10_000 })),
  };
}

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;
