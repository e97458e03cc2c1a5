// Field-data capture (design §4, §6): the policy a signed desired state carries in its telemetry settings, and
// the rows an agent sends back inside its telemetry batches. Every part is bounded (rows per batch, fields per
// row, string lengths) so a hub parsing them allocates nothing a device chooses.

import * as z from 'zod';
import { ModelName, SemVer } from './primitives.js';

const KiB = 1024;
const MiB = 1024 * KiB;

export const CAPTURE_LIMITS = {
  /** Rows (captured inputs and late labels) in one telemetry batch. */
  rowsPerBatch: 256,
  /** Fields (features) in one row. */
  fields: 256,
  /** A row's JSON, in bytes: the agent drops (and counts) a longer one, the hub refuses it (TOO_LARGE). */
  rowBytes: 8 * KiB,
  /** Longest field name, string value, prediction id. */
  text: 128,
  /** Rules in one desired state's telemetry settings. */
  rules: 64,
} as const;

const FieldName = z.string().min(1).max(CAPTURE_LIMITS.text);
const FieldList = z.array(FieldName).max(CAPTURE_LIMITS.fields);

/** What one model (and optionally one version) captures on a device. */
export const CaptureRule = z.object({
  model: ModelName,
  /** Only this version; unset: every version of `model`. The first matching rule applies. */
  version: SemVer.optional(),
  /** Base sample rate: the share of predictions captured regardless of triggers. */
  rate: z.number().min(0).max(1).default(0),
  triggers: z
    .object({
      /** Capture when the top-class confidence is below this. */
      lowConfidence: z.number().min(0).max(1).optional(),
      /** Capture when one of these reference features falls in the reference's tail (its under- or overflow bin). */
      tail: FieldList.optional(),
      /** Capture when the shadow model disagrees with the active one. */
      shadowDisagreement: z.boolean().optional(),
      /** Capture when a feedback label contradicts the prediction (the inputs of recent predictions are kept for it). */
      labelContradiction: z.boolean().optional(),
    })
    .default({}),
  /** Bytes of captured rows per device per telemetry window; beyond it rows are dropped and counted. */
  windowBytes: z.number().int().min(0).max(16 * MiB).default(64 * KiB),
  /** Bytes of captured rows the device's outbox keeps while offline; the oldest are dropped first and counted. */
  diskBytes: z.number().int().min(0).max(1024 * MiB).default(4 * MiB),
  /** Feature allow-list: only these leave the device; unset: every reference feature. */
  features: FieldList.optional(),
  /** Fields sent as sha256 hex of their value instead of the value (pseudonymous: join keys, not secrets). */
  hash: FieldList.default([]),
  /** Fields removed on the device before a row is stored or sent. */
  redact: FieldList.default([]),
});
export type CaptureRule = z.infer<typeof CaptureRule>;

export const CaptureRules = z.array(CaptureRule).max(CAPTURE_LIMITS.rules);

/** The rule that applies to a model version, or undefined (capture off for it). */
export function captureRuleFor(rules: readonly CaptureRule[] | undefined, model: string, version: string): CaptureRule | undefined {
  return rules?.find((r) => r.model === model && (r.version === undefined || r.version === version));
}

/**
 * Which reference features of a model version a device must not disclose beyond their drift bins, or null for
 * none (design §4 capture: a redacted field never leaves the device; telemetry/features.ts withholdMoments):
 * those the version's rule leaves off its allow-list, and those any rule of the model redacts or hashes — a
 * field named sensitive for one version is the same input for the others (a shadow, the next release). Applies
 * whether or not the device's own switch lets rows be captured: turning capture off discloses nothing more.
 */
export function captureWithheld(rules: readonly CaptureRule[] | undefined, model: string, version: string): ((feature: string) => boolean) | null {
  if (!rules || rules.length === 0) return null;
  const named = new Set<string>();
  for (const r of rules) if (r.model === model) for (const f of [...r.redact, ...r.hash]) named.add(f);
  const listed = captureRuleFor(rules, model, version)?.features;
  const allow = listed ? new Set(listed) : null;
  if (named.size === 0 && allow === null) return null;
  return (feature) => named.has(feature) || (allow !== null && !allow.has(feature));
}

const Text = z.string().max(CAPTURE_LIMITS.text);
const FieldValue = z.union([z.number(), Text, z.boolean(), z.null()]);
const ClassValue = z.union([z.number(), Text]);

export const CAPTURE_TRIGGERS = ['sample', 'low-confidence', 'tail', 'shadow-disagreement', 'label-contradiction'] as const;

/** A captured prediction: its id, the (allow-listed, hashed, redacted) features, prediction and confidence. */
export const CapturedRow = z.object({
  kind: z.literal('row'),
  /** The prediction id (design §5 infer `id`), the key labels join on. */
  id: Text.min(1),
  model: ModelName,
  version: SemVer,
  /** Epoch milliseconds of the prediction. */
  at: z.number().int().min(0),
  trigger: z.enum(CAPTURE_TRIGGERS),
  features: z
    .record(FieldName, FieldValue)
    .refine((f) => Object.keys(f).length <= CAPTURE_LIMITS.fields, `more than ${CAPTURE_LIMITS.fields} fields`),
  /** Class name (or index) of a classifier, value of a regressor, null when there is no single one. */
  prediction: ClassValue.nullable(),
  confidence: z.number().min(0).max(1).nullable(),
  label: ClassValue.optional(),
});
export type CapturedRow = z.infer<typeof CapturedRow>;

/** A late label for a captured prediction, joined by id (design §6 late labels). */
export const CapturedLabel = z.object({
  kind: z.literal('label'),
  id: Text.min(1),
  model: ModelName,
  version: SemVer,
  at: z.number().int().min(0),
  label: ClassValue,
});
export type CapturedLabel = z.infer<typeof CapturedLabel>;

export const Capture = z.discriminatedUnion('kind', [CapturedRow, CapturedLabel]);
export type Capture = z.infer<typeof Capture>;
