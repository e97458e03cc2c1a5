// What a trained classifier is and does once trained: its layers, forward pass (float64 over the
// exported float32 weights), predictions, accuracy and its ONNX export. Training itself is train.ts.
import { buildMlpClassifier } from '@edgefleet/protocol/onnx';
import type { Matrix } from './datasets.js';

/** One dense layer, row-major weights [inputs, outputs] (the layout Gemm takes with transB = 0). */
export interface DenseLayer {
  inputs: number;
  outputs: number;
  weights: Float32Array;
  biases: Float32Array;
}

export interface TrainingInfo {
  algorithm: 'softmax-regression' | 'mlp';
  optimizer: 'adam';
  epochs: number;
  lr: number;
  l2: number;
  batchSize: number;
  hidden?: number;
  seed?: number;
  rows: number;
  finalLoss: number;
  trainAccuracy: number;
  /** The standardization learned on the training rows; already folded into the first layer's weights. */
  featureMean: number[];
  featureStd: number[];
}

/** A trained classifier on raw (unstandardized) features; ReLU between layers. */
export interface Classifier {
  kind: 'logistic' | 'mlp';
  inputs: number;
  classes: number;
  layers: DenseLayer[];
  training: TrainingInfo;
}

/** Softmax of `logits[off..off+k]` into `out[off..]` in place-safe fashion; returns log-sum-exp. */
export function softmaxRow(logits: Float64Array, out: Float64Array, off: number, k: number): number {
  let max = -Infinity;
  for (let j = 0; j < k; j++) max = Math.max(max, logits[off + j]!);
  let sum = 0;
  for (let j = 0; j < k; j++) {
    const e = Math.exp(logits[off + j]! - max);
    out[off + j] = e;
    sum += e;
  }
  for (let j = 0; j < k; j++) out[off + j]! /= sum;
  return max + Math.log(sum);
}

/**
 * Dense forward pass of `rows` standardized rows through W [inp, out] + b into `z` (float64).
 * Kept as a plain loop: at these sizes it beats any allocation-heavy abstraction.
 */
export function dense(
  x: Float64Array,
  rowIdx: ArrayLike<number> | null,
  rows: number,
  inp: number,
  W: Float64Array,
  b: Float64Array,
  out: number,
  z: Float64Array,
): void {
  for (let r = 0; r < rows; r++) {
    const src = (rowIdx ? rowIdx[r]! : r) * inp;
    const dst = r * out;
    for (let j = 0; j < out; j++) z[dst + j] = b[j]!;
    for (let i = 0; i < inp; i++) {
      const xv = x[src + i]!;
      if (xv === 0) continue;
      const wo = i * out;
      for (let j = 0; j < out; j++) z[dst + j]! += xv * W[wo + j]!;
    }
  }
}

/**
 * Logits of raw rows, computed from the exported float32 weights (so they match what onnxruntime runs,
 * up to float32 rounding), in float64.
 */
export function predictLogits(model: Classifier, X: Matrix): Float64Array {
  if (X.cols !== model.inputs) throw new Error(`model takes ${model.inputs} features, got ${X.cols}`);
  let act = Float64Array.from(X.data);
  model.layers.forEach((layer, li) => {
    const z = new Float64Array(X.rows * layer.outputs);
    dense(act, null, X.rows, layer.inputs, Float64Array.from(layer.weights), Float64Array.from(layer.biases), layer.outputs, z);
    if (li < model.layers.length - 1) for (let k = 0; k < z.length; k++) if (z[k]! < 0) z[k] = 0;
    act = z;
  });
  return act;
}

/** Class probabilities [rows, classes], row-major. */
export function predictProba(model: Classifier, X: Matrix): Float64Array {
  const z = predictLogits(model, X);
  const p = new Float64Array(z.length);
  for (let r = 0; r < X.rows; r++) softmaxRow(z, p, r * model.classes, model.classes);
  return p;
}

/** Predicted class per row (first maximum, as ONNX ArgMax). */
export function predict(model: Classifier, X: Matrix): Int32Array {
  const z = predictLogits(model, X);
  const k = model.classes;
  const out = new Int32Array(X.rows);
  for (let r = 0; r < X.rows; r++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (z[r * k + j]! > z[r * k + best]!) best = j;
    out[r] = best;
  }
  return out;
}

/** Share of rows whose predicted class equals the label. */
export function accuracy(model: Classifier, X: Matrix, y: ArrayLike<number>): number {
  const pred = predict(model, X);
  let correct = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === y[i]) correct++;
  return pred.length === 0 ? 0 : correct / pred.length;
}

export interface ExportOptions {
  /** Input tensor name; default `features`. */
  inputName?: string;
  /** Class names, index-aligned with the model's classes; stored as JSON in metadata `labels`. */
  labels?: readonly string[];
  featureNames?: readonly string[];
  /** Extra metadata_props (dataset id, run id, validation metrics…). */
  metadata?: Record<string, string>;
  producer?: string;
}

/**
 * The classifier as ONNX: `features` [batch, F] float32 → `probabilities` [batch, C], `label` [batch] int64.
 * metadata_props carry the labels and how the model was trained (readModelInfo reads them back).
 */
export function exportClassifierOnnx(model: Classifier, options: ExportOptions = {}): Uint8Array {
  if (options.labels && options.labels.length !== model.classes) {
    throw new Error(`${options.labels.length} labels for ${model.classes} classes`);
  }
  const t = model.training;
  const metadata: Record<string, string> = {
    ...(options.labels ? { labels: JSON.stringify(options.labels) } : {}),
    ...(options.featureNames ? { feature_names: JSON.stringify(options.featureNames) } : {}),
    'training.algorithm': t.algorithm,
    'training.optimizer': t.optimizer,
    'training.epochs': String(t.epochs),
    'training.lr': String(t.lr),
    'training.l2': String(t.l2),
    'training.rows': String(t.rows),
    'training.final_loss': t.finalLoss.toFixed(6),
    'training.train_accuracy': t.trainAccuracy.toFixed(4),
    ...(t.hidden !== undefined ? { 'training.hidden': String(t.hidden) } : {}),
    ...(t.seed !== undefined ? { 'training.seed': String(t.seed) } : {}),
    ...options.metadata,
  };
  return buildMlpClassifier({
    weights: model.layers.map((l) => l.weights),
    biases: model.layers.map((l) => l.biases),
    inputName: options.inputName ?? 'features',
    activation: 'relu',
    producer: options.producer ?? 'edgefleet-trainer',
    metadata,
  });
}
