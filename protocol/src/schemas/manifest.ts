// The model manifest (design §3): tensor specs and self-test data, the drift reference (design §6), the manifest.

import * as z from 'zod';
import { LIMITS } from '../limits.js';
import { IsoTime, ModelName, SemVer, Sha256Hex } from './primitives.js';

// ---- tensors ----

/** ONNX element types we carry on the wire, named as onnxruntime-common names them. */
export const ElementType = z.enum([
  'float32',
  'float64',
  'float16',
  'int8',
  'uint8',
  'int16',
  'uint16',
  'int32',
  'uint32',
  'int64',
  'uint64',
  'bool',
  'string',
]);
export type ElementType = z.infer<typeof ElementType>;

/** A dimension: a fixed size, or a symbolic name (batch, seq…) which accepts any size. */
export const Dim = z.union([z.number().int().min(0), z.string().min(1).max(64)]);
export type Dim = z.infer<typeof Dim>;

export const TensorSpec = z.object({
  name: z.string().min(1).max(256),
  type: ElementType,
  shape: z.array(Dim).max(16),
});
export type TensorSpec = z.infer<typeof TensorSpec>;

/** A concrete tensor in JSON: row-major data; int64 values as numbers (or decimal strings beyond 2^53). */
export const TensorData = z.object({
  name: z.string().min(1).max(256),
  type: ElementType,
  shape: z.array(z.number().int().min(0)).max(16),
  data: z.union([z.array(z.number()), z.array(z.boolean()), z.array(z.string())]),
});
export type TensorData = z.infer<typeof TensorData>;

// ---- drift reference (design §6) ----

/**
 * How one monitored feature is read from an input tensor, per batch row (axis 0 is the batch):
 * `index` picks element `index` of the row's last axis (tabular features); `reduce` summarizes the
 * whole row (e.g. the mean of an image), optionally restricted to one `channel` of axis 1.
 */
export const FeatureSource = z.object({
  input: z.string().min(1).max(256),
  index: z.number().int().min(0).optional(),
  reduce: z.enum(['mean', 'std', 'min', 'max', 'l2']).optional(),
  channel: z.number().int().min(0).optional(),
});
export type FeatureSource = z.infer<typeof FeatureSource>;

export const ReferenceFeature = z.object({
  name: z.string().min(1).max(128),
  source: FeatureSource,
  /** Bin edges (reference quantiles), strictly increasing; bins are (-inf,e0), [e0,e1), …, [e_last, +inf). */
  edges: z.array(z.number()).min(1).max(64),
  /** Reference counts per bin: edges.length + 1 entries (underflow first, overflow last). */
  counts: z.array(z.number().min(0)),
  mean: z.number(),
  std: z.number().min(0),
});
export type ReferenceFeature = z.infer<typeof ReferenceFeature>;

export const ReferenceOutput = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('classifier'),
    /** Output holding class scores/probabilities [batch, classes] (or class indices when `indices`). */
    output: z.string(),
    indices: z.boolean().default(false),
    classCounts: z.array(z.number().min(0)),
  }),
  z.object({
    kind: z.literal('regressor'),
    output: z.string(),
    edges: z.array(z.number()).min(1).max(64),
    counts: z.array(z.number().min(0)),
  }),
]);
export type ReferenceOutput = z.infer<typeof ReferenceOutput>;

export const Reference = z.object({
  /** Rows the reference was computed from. */
  n: z.number().int().min(0),
  features: z.array(ReferenceFeature).max(256),
  output: ReferenceOutput.optional(),
});
export type Reference = z.infer<typeof Reference>;

// ---- global feature importance (design §3 lineage) ----

/**
 * Permutation importance of one version on its validation data, computed at push: how much the model's
 * score drops when one reference feature's values are shuffled across rows. Optional in the lineage, so
 * manifests signed before it existed (and agents that strip unknown keys) stay valid.
 */
export const FeatureImportance = z.object({
  method: z.literal('permutation'),
  /** What dropped: accuracy on labelled rows, the share of changed predictions (unlabelled classifier), or the mean squared change of a regressor's value. */
  metric: z.enum(['accuracy', 'prediction-change', 'squared-change']),
  rows: z.number().int().min(1),
  repeats: z.number().int().min(1),
  seed: z.number().int(),
  features: z
    .array(
      z.object({
        name: z.string().min(1).max(128),
        /** Mean score drop over the repeats (negative: shuffling helped, by chance). */
        drop: z.number(),
        /** This feature's part of the total positive drop, 0..1; the shares sum to 1. */
        share: z.number().min(0).max(1),
      }),
    )
    .max(256),
});
export type FeatureImportance = z.infer<typeof FeatureImportance>;

// ---- model manifest (design §3) ----

export const Manifest = z.object({
  kind: z.literal('model-manifest'),
  model: ModelName,
  version: SemVer,
  release: z.number().int().min(1),
  createdAt: IsoTime,
  expiresAt: IsoTime.optional(),
  artifact: z.object({
    sha256: Sha256Hex,
    size: z.number().int().min(1),
    chunkSize: z.number().int().min(1024).max(LIMITS.chunkBytes),
    format: z.literal('onnx'),
    /** Optional HTTP(S) locations (hub or CDN) serving the same bytes with range requests (design §8). */
    urls: z.array(z.string().url()).max(8).optional(),
  }),
  io: z.object({
    inputs: z.array(TensorSpec).min(1).max(64),
    outputs: z.array(TensorSpec).min(1).max(64),
  }),
  selfTest: z.object({
    inputs: z.array(TensorData).min(1),
    outputs: z.array(TensorData).min(1),
    tolerance: z.object({ abs: z.number().min(0), rel: z.number().min(0) }),
  }),
  reference: Reference.optional(),
  labels: z.array(z.string().max(128)).max(4096).optional(),
  lineage: z
    .object({
      dataset: z.object({ id: z.string().max(256), sha256: Sha256Hex.optional() }).optional(),
      run: z.string().max(256).optional(),
      commit: z.string().max(64).optional(),
      metrics: z.record(z.string(), z.number()).optional(),
      importance: FeatureImportance.optional(),
    })
    .default({}),
  compat: z
    .object({
      runtimes: z.array(z.string()).default(['onnxruntime']),
      minAgentVersion: SemVer.optional(),
      irVersion: z.number().int().optional(),
      opsets: z.record(z.string(), z.number().int()).optional(),
    })
    .default({ runtimes: ['onnxruntime'] }),
});
export type Manifest = z.infer<typeof Manifest>;
