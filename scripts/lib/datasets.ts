// Generated sensor datasets for the demo, tests and benchmarks: vibration features of rotating machines with
// three classes that genuinely overlap (mild faults look almost normal), so a classifier lands near 90%, not 100%.
import { createNormal, mulberry32 } from './random.js';

/** Row-major feature matrix. */
export interface Matrix {
  rows: number;
  cols: number;
  data: Float32Array | Float64Array;
}

export const VIBRATION_FEATURES = [
  'rms', // overall vibration velocity RMS, mm/s
  'kurtosis', // impulsiveness of the time signal (3 for Gaussian vibration)
  'crest_factor', // peak / RMS
  'peak_frequency', // Hz of the largest spectral peak (50 Hz = 1× shaft speed here)
  'band_energy_ratio', // share of energy in the high-frequency bearing band
  'temperature', // housing temperature, °C
] as const;
export type VibrationFeature = (typeof VIBRATION_FEATURES)[number];

export const VIBRATION_LABELS = ['normal', 'imbalance', 'bearing-fault'] as const;

/** A typical spread of each feature: `shift` is measured in these units (≈ one within-class σ). */
export const VIBRATION_FEATURE_SCALE: Record<VibrationFeature, number> = {
  rms: 0.3,
  kurtosis: 0.5,
  crest_factor: 0.4,
  peak_frequency: 40,
  band_energy_ratio: 0.08,
  temperature: 6,
};

export interface VibrationDatasetOptions {
  n: number;
  seed: number;
  /** Covariate drift: add `shift × scale` to every feature (a number) or to the named ones. */
  shift?: number | Partial<Record<VibrationFeature, number>>;
  /** Class mix; default [0.5, 0.25, 0.25]. */
  classPriors?: readonly [number, number, number];
}

export interface Dataset {
  X: Matrix & { data: Float32Array };
  y: Int32Array;
  featureNames: string[];
  labels: string[];
}

const SHAFT_HZ = 50;
const BPFO_HZ = 162; // outer-race defect frequency ≈ 3.24 × shaft speed

/**
 * Vibration features from class-conditional distributions. Faults have a latent severity in [0.25, 1]:
 * a mild imbalance raises RMS only a little, a mild bearing fault barely moves kurtosis, so the classes overlap.
 */
export function generateVibrationDataset(options: VibrationDatasetOptions): Dataset {
  const { n, seed } = options;
  const rng = mulberry32(seed);
  const normal = createNormal(rng);
  const priors = options.classPriors ?? [0.5, 0.25, 0.25];
  const total = priors[0] + priors[1] + priors[2];
  const shift = VIBRATION_FEATURES.map((f) => {
    const s = typeof options.shift === 'number' ? options.shift : (options.shift?.[f] ?? 0);
    return s * VIBRATION_FEATURE_SCALE[f];
  });
  const d = VIBRATION_FEATURES.length;
  const data = new Float32Array(n * d);
  const y = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    const u = rng() * total;
    const label = u < priors[0] ? 0 : u < priors[0] + priors[1] ? 1 : 2;
    const severity = label === 0 ? 0 : 0.25 + 0.75 * rng();
    const imbalance = label === 1 ? severity : 0;
    const bearing = label === 2 ? severity : 0;
    const rms = Math.exp(normal(Math.log(1.1 + 1.2 * imbalance + 0.35 * bearing), 0.22));
    const kurtosis = Math.max(1.5, 3 + 3 * bearing + normal(0, 0.45) + 0.6 * Math.max(0, normal(0, 0.5)));
    const crest = Math.max(1.2, 2.8 - 0.3 * imbalance + 0.35 * (kurtosis - 3) + normal(0, 0.35));
    // the dominant peak: bearing defects show up at BPFO more often as they grow; otherwise 1× shaft speed,
    // with an occasional unrelated peak (gear mesh, electrical noise) anywhere in the band
    const pBearingPeak = bearing > 0 ? 0.15 + 0.6 * bearing : 0.05;
    const v = rng();
    const peak =
      v < pBearingPeak
        ? normal(BPFO_HZ, 10)
        : v < pBearingPeak + 0.12
          ? 20 + rng() * 380
          : normal(SHAFT_HZ * (1 + 0.02 * imbalance), 3);
    const band = Math.min(0.95, Math.max(0.01, normal(0.18 + 0.32 * bearing - 0.04 * imbalance, 0.07)));
    const temperature = normal(45 + 2 * imbalance + 6 * bearing, 5);
    const row = [rms, kurtosis, crest, peak, band, temperature];
    for (let c = 0; c < d; c++) data[r * d + c] = (row[c] as number) + (shift[c] as number);
    y[r] = label;
  }
  return {
    X: { rows: n, cols: d, data },
    y,
    featureNames: [...VIBRATION_FEATURES],
    labels: [...VIBRATION_LABELS],
  };
}

/** Rows `start..end` of a matrix (views, no copy), with the matching labels. */
export function sliceRows(ds: Dataset, start: number, end: number): Dataset {
  const { cols } = ds.X;
  return {
    X: { rows: end - start, cols, data: ds.X.data.subarray(start * cols, end * cols) },
    y: ds.y.subarray(start, end),
    featureNames: ds.featureNames,
    labels: ds.labels,
  };
}

/**
 * Validation rows for `edgefleet model push --validation`: one JSON line per row,
 * `{"inputs": {"<input>": [row]}, "label": "<class name>"}` (a label index when `labelNames` is false).
 */
export function toValidationJsonl(ds: Dataset, options: { inputName?: string; labelNames?: boolean } = {}): string {
  const inputName = options.inputName ?? 'features';
  const { rows, cols, data } = ds.X;
  const lines: string[] = [];
  for (let r = 0; r < rows; r++) {
    const label = ds.y[r]!;
    lines.push(
      JSON.stringify({
        inputs: { [inputName]: Array.from(data.subarray(r * cols, r * cols + cols)) },
        label: options.labelNames === false ? label : (ds.labels[label] ?? label),
      }),
    );
  }
  return lines.join('\n') + '\n';
}

/** An Open Inference Protocol request body for rows `start..start+count` (design §5; FP32 = float32). */
export function toInferRequest(
  ds: Dataset,
  options: { inputName?: string; start?: number; count?: number; id?: string } = {},
): { id?: string; inputs: { name: string; shape: number[]; datatype: 'FP32'; data: number[] }[] } {
  const start = options.start ?? 0;
  const count = Math.min(options.count ?? 1, ds.X.rows - start);
  const { cols, data } = ds.X;
  return {
    ...(options.id !== undefined ? { id: options.id } : {}),
    inputs: [
      {
        name: options.inputName ?? 'features',
        shape: [count, cols],
        datatype: 'FP32',
        data: Array.from(data.subarray(start * cols, (start + count) * cols)),
      },
    ],
  };
}
