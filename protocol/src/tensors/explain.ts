// Explanations of one prediction (design §5 `POST /v2/models/{name}/explain`): an OIP inference request
// whose `parameters` say what to explain, and per-feature Shapley attributions back. The same shapes serve
// the agent library (`agent.explain`) and the local API; the agent core computes them (core/explain.ts).

import * as z from 'zod';
import { OipInferRequest } from './oip.js';

export const EXPLAIN_LIMITS = {
  /** Exact Shapley values up to this many features: 2^12 = 4096 coalitions, one onnxruntime batch. */
  exactFeatures: 12,
  /** Features of one explained input, at most (a drift reference names at most 256 too). */
  features: 256,
  /** Sampled permutations, at most. */
  samples: 4096,
  /** Model rows evaluated for one explanation, at most (sampled: 2 + samples·(features − 1)). */
  evaluations: 65_536,
  /** Rows per onnxruntime run: the local API's row cap, which bounds the activations a run allocates. */
  batchRows: 4096,
  /** Explanations running at once on one agent; more are refused (RATE_LIMITED) rather than queued. */
  concurrent: 2,
} as const;

/** Permutations sampled when the request names no count. */
export const DEFAULT_EXPLAIN_SAMPLES = 256;
/** Seed of the permutation sampler when the request names none: the same request gets the same answer. */
export const DEFAULT_EXPLAIN_SEED = 1;

/**
 * The reference point features are moved from: the manifest reference's `mean` (default) or bin-weighted
 * `median` per feature, or explicit values — all of them in feature order, or some by feature name (the
 * others from the reference mean).
 */
export const ExplainBaseline = z.union([
  z.enum(['mean', 'median']),
  z.array(z.number()).min(1).max(EXPLAIN_LIMITS.features),
  z
    .record(z.string().min(1).max(128), z.number())
    .refine((r) => Object.keys(r).length <= EXPLAIN_LIMITS.features, `at most ${EXPLAIN_LIMITS.features} features`),
]);
export type ExplainBaseline = z.infer<typeof ExplainBaseline>;

export const ExplainOptions = z
  .object({
    baseline: ExplainBaseline.optional(),
    /** The input whose features are explained (a float input [batch, features]); default: the reference's, or the only one. */
    input: z.string().min(1).max(256).optional(),
    /** The output explained (float); default: the reference's output, else the first float output. */
    output: z.string().min(1).max(256).optional(),
    /** Element of the output row explained: an index or a class label; default: the predicted class, or element 0 of a value. */
    target: z.union([z.number().int().min(0), z.string().min(1).max(128)]).optional(),
    /** `auto` (default): exact up to EXPLAIN_LIMITS.exactFeatures features, sampled beyond. */
    method: z.enum(['auto', 'exact', 'sampled']).optional(),
    /** Permutations for sampled Shapley (default DEFAULT_EXPLAIN_SAMPLES). */
    samples: z.number().int().min(2).max(EXPLAIN_LIMITS.samples).optional(),
    seed: z.number().int().min(0).max(2 ** 32 - 1).optional(),
  })
  .strict();
export type ExplainOptions = z.infer<typeof ExplainOptions>;

/** An OIP inference request of one row whose `parameters` are ExplainOptions (unknown keys are refused). */
export const OipExplainRequest = OipInferRequest.omit({ parameters: true, outputs: true }).extend({
  parameters: ExplainOptions.optional(),
});
export type OipExplainRequest = z.infer<typeof OipExplainRequest>;

export const ExplainedFeature = z.object({
  name: z.string(),
  input: z.string(),
  /** Position on the input's last axis. */
  index: z.number().int().min(0),
  value: z.number(),
  baseline: z.number(),
  attribution: z.number(),
  /** Sampled only: the standard error of `attribution` over the permutations. */
  standard_error: z.number().optional(),
});
export type ExplainedFeature = z.infer<typeof ExplainedFeature>;

/**
 * Shapley attributions of one prediction: Σ attribution = value − base_value (exactly for `exact`, up to
 * float rounding; for `sampled` too, since every permutation's contributions telescope).
 */
export const OipExplainResponse = z.object({
  model_name: z.string(),
  model_version: z.string(),
  /** The request's id, echoed; an explanation records no prediction. */
  id: z.string().optional(),
  method: z.enum(['exact', 'sampled']),
  target: z.object({
    output: z.string(),
    index: z.number().int().min(0),
    /** `class`: a classifier's score for one class; `value`: a regressor's output. */
    kind: z.enum(['class', 'value']),
    label: z.string().optional(),
  }),
  /** The target's value at the input, f(x). */
  value: z.number(),
  /** The target's value at the baseline, f(baseline). */
  base_value: z.number(),
  features: z.array(ExplainedFeature),
  /** Sampled only: permutations and seed. */
  samples: z.number().int().optional(),
  seed: z.number().int().optional(),
  /** Model rows evaluated, and the onnxruntime runs they took. */
  evaluations: z.number().int(),
  runs: z.number().int(),
});
export type OipExplainResponse = z.infer<typeof OipExplainResponse>;
