// Models for the demo, simulator, benchmarks and tests: the vibration classifier trained for real with
// scripts/lib/train.ts (v1 softmax regression, v2 an MLP on more data), and untrained ones of a chosen size.

import { buildMlpClassifier } from '@edgefleet/protocol/onnx';
import {
  accuracy,
  exportClassifierOnnx,
  generateVibrationDataset,
  mulberry32,
  sliceRows,
  toInferRequest,
  toValidationJsonl,
  trainLogisticRegression,
  trainMlp,
  VIBRATION_FEATURES,
  VIBRATION_LABELS,
} from '../lib/train.js';

export interface TrainedModel {
  version: string;
  bytes: Uint8Array;
  /** Accuracy on the held-out validation rows the hub re-checks on push. */
  accuracy: number;
  algorithm: string;
  trainRows: number;
  /** JSONL for POST /models `validation` (also the drift reference the hub derives). */
  validation: string;
  sample: unknown;
}

/**
 * v1 (softmax regression on 1,500 rows) and v2 (16-unit MLP on 6,000 rows) of the vibration classifier, and
 * v2.1 — v2's weights in a new build (other bytes): the demo's "bad build" whose failures the simulator injects.
 */
export function trainVibrationModels(seed = 7): { v1: TrainedModel; v2: TrainedModel; v21: TrainedModel } {
  const train = generateVibrationDataset({ n: 6000, seed });
  const valid = generateVibrationDataset({ n: 1000, seed: seed + 1 });
  const validation = toValidationJsonl(valid);
  const sample = toInferRequest(valid, { count: 2 });
  const meta = { dataset: `vibration-seed-${seed}` };
  const small = sliceRows(train, 0, 1500);
  const m1 = trainLogisticRegression(small.X, small.y, { classes: 3, epochs: 200 });
  const m2 = trainMlp(train.X, train.y, { classes: 3, hidden: 16, epochs: 30, seed });
  const out = (version: string, m: typeof m1, rows: number): TrainedModel => ({
    version,
    bytes: exportClassifierOnnx(m, { labels: VIBRATION_LABELS, featureNames: VIBRATION_FEATURES, metadata: { ...meta, build: version } }),
    accuracy: accuracy(m, valid.X, valid.y),
    algorithm: m.training.algorithm,
    trainRows: rows,
    validation,
    sample,
  });
  return { v1: out('1.0.0', m1, small.X.rows), v2: out('2.0.0', m2, train.X.rows), v21: out('2.1.0', m2, train.X.rows) };
}

/**
 * An untrained 6-feature, 3-class MLP whose file is about `bytes` long (hidden width chosen to fit):
 * the artifact size of the fan-out benchmark without minutes of training.
 */
export function sizedClassifier(bytes: number, seed = 1): Uint8Array {
  const F = VIBRATION_FEATURES.length;
  const C = VIBRATION_LABELS.length;
  const hidden = Math.max(1, Math.round(bytes / 4 / (F + C + 1)));
  const rng = mulberry32(seed);
  const rand = (n: number, scale: number) => Float32Array.from({ length: n }, () => (rng() * 2 - 1) * scale);
  return buildMlpClassifier({
    weights: [rand(F * hidden, 0.3), rand(hidden * C, 1 / Math.sqrt(hidden))],
    biases: [rand(hidden, 0.1), rand(C, 0.1)],
    metadata: { labels: JSON.stringify(VIBRATION_LABELS), feature_names: JSON.stringify(VIBRATION_FEATURES) },
  });
}
