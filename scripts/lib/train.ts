// A small trainer for genuinely trained classifiers: softmax regression and a one-hidden-layer
// ReLU MLP, by gradient descent (Adam) on typed arrays, exported to ONNX with @edgefleet/protocol's builder.
import { accuracy, dense, softmaxRow, type Classifier, type DenseLayer } from './classifier.js';
import type { Matrix } from './datasets.js';
import { mulberry32, createNormal, shuffleInPlace } from './random.js';

export { mulberry32, createNormal, shuffleInPlace } from './random.js';
export type { Rng } from './random.js';
export {
  generateVibrationDataset,
  sliceRows,
  toInferRequest,
  toValidationJsonl,
  VIBRATION_FEATURES,
  VIBRATION_FEATURE_SCALE,
  VIBRATION_LABELS,
} from './datasets.js';
export type { Dataset, Matrix, VibrationDatasetOptions, VibrationFeature } from './datasets.js';
export { accuracy, exportClassifierOnnx, predict, predictLogits, predictProba } from './classifier.js';
export type { Classifier, DenseLayer, ExportOptions, TrainingInfo } from './classifier.js';

export interface LogisticOptions {
  classes: number;
  /** Full-batch epochs; default 300. */
  epochs?: number;
  /** Adam step size; default 0.05. */
  lr?: number;
  /** L2 penalty on weights (not biases); default 1e-4. */
  l2?: number;
}

export interface MlpOptions {
  classes: number;
  /** Hidden ReLU units; default 16. */
  hidden?: number;
  /** Epochs of shuffled mini-batches; default 40. */
  epochs?: number;
  /** Adam step size; default 0.01. */
  lr?: number;
  l2?: number;
  batchSize?: number;
  /** Seeds initialization and shuffling; default 1. */
  seed?: number;
}

interface Standardized {
  data: Float64Array;
  mean: Float64Array;
  std: Float64Array;
}

function standardize(X: Matrix): Standardized {
  const { rows, cols } = X;
  const mean = new Float64Array(cols);
  const std = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) mean[c]! += X.data[r * cols + c]!;
  for (let c = 0; c < cols; c++) mean[c]! /= Math.max(1, rows);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const dv = X.data[r * cols + c]! - mean[c]!;
      std[c]! += dv * dv;
    }
  }
  // a constant feature keeps std 1 so it neither explodes nor divides by zero
  for (let c = 0; c < cols; c++) std[c] = Math.sqrt(std[c]! / Math.max(1, rows)) || 1;
  const data = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) data[r * cols + c] = (X.data[r * cols + c]! - mean[c]!) / std[c]!;
  }
  return { data, mean, std };
}

function checkLabels(X: Matrix, y: ArrayLike<number>, classes: number): void {
  if (y.length !== X.rows) throw new Error(`${y.length} labels for ${X.rows} rows`);
  if (X.data.length !== X.rows * X.cols) throw new Error(`matrix data holds ${X.data.length} values, not ${X.rows}×${X.cols}`);
  for (let i = 0; i < y.length; i++) {
    const v = y[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= classes) throw new Error(`label ${v} at row ${i} is not in 0..${classes - 1}`);
  }
}

/** Adam state for one parameter vector. */
class Adam {
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private t = 0;
  constructor(
    private readonly params: Float64Array,
    private readonly lr: number,
  ) {
    this.m = new Float64Array(params.length);
    this.v = new Float64Array(params.length);
  }
  step(grad: Float64Array): void {
    this.t++;
    const b1 = 0.9;
    const b2 = 0.999;
    const c1 = 1 - b1 ** this.t;
    const c2 = 1 - b2 ** this.t;
    const { params, m, v, lr } = this;
    for (let i = 0; i < params.length; i++) {
      const g = grad[i]!;
      m[i] = b1 * m[i]! + (1 - b1) * g;
      v[i] = b2 * v[i]! + (1 - b2) * g * g;
      params[i]! -= (lr * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + 1e-8);
    }
  }
}

/** Fold x' = (x - mean) / std into the first layer: W' = W / std (per input row), b' = b - Σ mean/std · W. */
function foldStandardization(W: Float64Array, b: Float64Array, inp: number, out: number, s: Standardized): DenseLayer {
  const weights = new Float32Array(inp * out);
  const biases = new Float32Array(out);
  const bb = Float64Array.from(b);
  for (let i = 0; i < inp; i++) {
    for (let j = 0; j < out; j++) {
      const w = W[i * out + j]! / s.std[i]!;
      weights[i * out + j] = w;
      bb[j]! -= s.mean[i]! * w;
    }
  }
  biases.set(bb);
  return { inputs: inp, outputs: out, weights, biases };
}

function toLayer(W: Float64Array, b: Float64Array, inp: number, out: number): DenseLayer {
  return { inputs: inp, outputs: out, weights: Float32Array.from(W), biases: Float32Array.from(b) };
}

/** Softmax regression by full-batch Adam on standardized features; standardization folded into the weights. */
export function trainLogisticRegression(X: Matrix, y: ArrayLike<number>, options: LogisticOptions): Classifier {
  const { classes } = options;
  const epochs = options.epochs ?? 300;
  const lr = options.lr ?? 0.05;
  const l2 = options.l2 ?? 1e-4;
  checkLabels(X, y, classes);
  const { rows: n, cols: d } = X;
  const s = standardize(X);
  const W = new Float64Array(d * classes);
  const b = new Float64Array(classes);
  const gW = new Float64Array(d * classes);
  const gb = new Float64Array(classes);
  const optW = new Adam(W, lr);
  const optB = new Adam(b, lr);
  const z = new Float64Array(n * classes);
  const p = new Float64Array(n * classes);
  let loss = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    dense(s.data, null, n, d, W, b, classes, z);
    gW.fill(0);
    gb.fill(0);
    loss = 0;
    for (let r = 0; r < n; r++) {
      const off = r * classes;
      const lse = softmaxRow(z, p, off, classes);
      const label = y[r]!;
      loss += lse - z[off + label]!;
      p[off + label]! -= 1; // dL/dz = p - onehot
      for (let i = 0; i < d; i++) {
        const xv = s.data[r * d + i]!;
        for (let j = 0; j < classes; j++) gW[i * classes + j]! += xv * p[off + j]!;
      }
      for (let j = 0; j < classes; j++) gb[j]! += p[off + j]!;
    }
    for (let k = 0; k < gW.length; k++) gW[k] = gW[k]! / n + l2 * W[k]!;
    for (let j = 0; j < classes; j++) gb[j]! /= n;
    optW.step(gW);
    optB.step(gb);
  }
  const model: Classifier = {
    kind: 'logistic',
    inputs: d,
    classes,
    layers: [foldStandardization(W, b, d, classes, s)],
    training: {
      algorithm: 'softmax-regression',
      optimizer: 'adam',
      epochs,
      lr,
      l2,
      batchSize: n,
      rows: n,
      finalLoss: loss / Math.max(1, n),
      trainAccuracy: 0,
      featureMean: Array.from(s.mean),
      featureStd: Array.from(s.std),
    },
  };
  model.training.trainAccuracy = accuracy(model, X, y);
  return model;
}

/** One hidden ReLU layer, mini-batch Adam with hand-written backprop; He-initialized from `seed`. */
export function trainMlp(X: Matrix, y: ArrayLike<number>, options: MlpOptions): Classifier {
  const { classes } = options;
  const hidden = options.hidden ?? 16;
  const epochs = options.epochs ?? 40;
  const lr = options.lr ?? 0.01;
  const l2 = options.l2 ?? 1e-4;
  const batchSize = options.batchSize ?? 64;
  const seed = options.seed ?? 1;
  checkLabels(X, y, classes);
  const { rows: n, cols: d } = X;
  const s = standardize(X);
  const rng = mulberry32(seed);
  const normal = createNormal(rng);
  const W1 = Float64Array.from({ length: d * hidden }, () => normal(0, Math.sqrt(2 / d)));
  const b1 = new Float64Array(hidden);
  const W2 = Float64Array.from({ length: hidden * classes }, () => normal(0, Math.sqrt(2 / hidden)));
  const b2 = new Float64Array(classes);
  const opt = [new Adam(W1, lr), new Adam(b1, lr), new Adam(W2, lr), new Adam(b2, lr)] as const;
  const gW1 = new Float64Array(W1.length);
  const gb1 = new Float64Array(hidden);
  const gW2 = new Float64Array(W2.length);
  const gb2 = new Float64Array(classes);
  const h = new Float64Array(batchSize * hidden);
  const z = new Float64Array(batchSize * classes);
  const p = new Float64Array(batchSize * classes);
  const dh = new Float64Array(batchSize * hidden);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  let loss = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    shuffleInPlace(rng, order);
    loss = 0;
    for (let start = 0; start < n; start += batchSize) {
      const m = Math.min(batchSize, n - start);
      const idx = order.subarray(start, start + m);
      dense(s.data, idx, m, d, W1, b1, hidden, h);
      for (let k = 0; k < m * hidden; k++) if (h[k]! < 0) h[k] = 0; // ReLU
      dense(h, null, m, hidden, W2, b2, classes, z);
      gW1.fill(0);
      gb1.fill(0);
      gW2.fill(0);
      gb2.fill(0);
      dh.fill(0);
      for (let r = 0; r < m; r++) {
        const off = r * classes;
        const lse = softmaxRow(z, p, off, classes);
        const label = y[idx[r]!]!;
        loss += lse - z[off + label]!;
        p[off + label]! -= 1;
        for (let j = 0; j < classes; j++) {
          const g = p[off + j]! / m;
          gb2[j]! += g;
          for (let k = 0; k < hidden; k++) {
            gW2[k * classes + j]! += h[r * hidden + k]! * g;
            dh[r * hidden + k]! += W2[k * classes + j]! * g;
          }
        }
        const xo = idx[r]! * d;
        for (let k = 0; k < hidden; k++) {
          if (h[r * hidden + k]! <= 0) continue; // ReLU gate
          const g = dh[r * hidden + k]!;
          gb1[k]! += g;
          for (let i = 0; i < d; i++) gW1[i * hidden + k]! += s.data[xo + i]! * g;
        }
      }
      for (let k = 0; k < gW1.length; k++) gW1[k]! += l2 * W1[k]!;
      for (let k = 0; k < gW2.length; k++) gW2[k]! += l2 * W2[k]!;
      opt[0].step(gW1);
      opt[1].step(gb1);
      opt[2].step(gW2);
      opt[3].step(gb2);
    }
  }
  const model: Classifier = {
    kind: 'mlp',
    inputs: d,
    classes,
    layers: [foldStandardization(W1, b1, d, hidden, s), toLayer(W2, b2, hidden, classes)],
    training: {
      algorithm: 'mlp',
      optimizer: 'adam',
      epochs,
      lr,
      l2,
      batchSize,
      hidden,
      seed,
      rows: n,
      finalLoss: loss / Math.max(1, n),
      trainAccuracy: 0,
      featureMean: Array.from(s.mean),
      featureStd: Array.from(s.std),
    },
  };
  model.training.trainAccuracy = accuracy(model, X, y);
  return model;
}
