// What the hub tells a device (design §3, §4): desired states, commands, artifact chunk requests.

import * as z from 'zod';
import { LIMITS } from '../limits.js';
import { DeviceId, IsoTime, ModelName, Sha256Hex } from './primitives.js';
import { Envelope } from './signed.js';
import { CaptureRules } from './capture.js';

// ---- desired state and commands (design §3) ----

export const TelemetrySettings = z.object({
  windowSeconds: z.number().int().min(1).max(3600).default(60),
  /** Probation after activation, seconds (design §5, default 10 min). */
  probationSeconds: z.number().int().min(0).max(86400).default(600),
  /** Error rate during probation above which the agent rolls back. */
  probationMaxErrorRate: z.number().min(0).max(1).default(0.2),
  /** Minimum inferences before the probation error rate is judged. */
  probationMinInferences: z.number().int().min(1).default(20),
  /**
   * design §4 telemetry: the agent keeps a PUBACKed batch until a `telemetry-confirm` command names its seq
   * (a hub behind an external broker, whose PUBACK says nothing about the hub's database). Unset = false:
   * delete on PUBACK, as a hub whose broker acknowledges only committed batches wants.
   */
  confirm: z.boolean().optional(),
  /** Field-data capture per model (version): sample rate, triggers, quotas, allow-list, hashing, redaction. */
  capture: CaptureRules.optional(),
});
export type TelemetrySettings = z.infer<typeof TelemetrySettings>;

export const DesiredModel = z.object({
  manifest: Envelope,
  role: z.enum(['active', 'shadow']),
  rolloutId: z.string().max(64).optional(),
});
export type DesiredModel = z.infer<typeof DesiredModel>;

export const DesiredState = z.object({
  kind: z.literal('desired-state'),
  deviceId: DeviceId,
  sequence: z.number().int().min(1),
  issuedAt: IsoTime,
  expiresAt: IsoTime,
  models: z.array(DesiredModel).max(32),
  telemetry: TelemetrySettings.optional(),
});
export type DesiredState = z.infer<typeof DesiredState>;

/** Telemetry seq ranges [from, to] (inclusive) in one `telemetry-confirm` command. */
export const MAX_CONFIRM_RANGES = 256;

const TelemetrySeq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const Command = z
  .object({
    kind: z.literal('command'),
    deviceId: DeviceId,
    /** Strictly increasing per device, independent of the desired-state sequence. */
    sequence: z.number().int().min(1),
    issuedAt: IsoTime,
    expiresAt: IsoTime,
    action: z.enum(['rollback', 'flush-telemetry', 'resync', 'telemetry-confirm', 'batch']),
    model: ModelName.optional(),
    reason: z.string().max(512).optional(),
    /**
     * `batch`: the input file, a name inside the directory the device allowed (its agent config `batchDir`).
     * The agent, not this schema, decides what its directory holds: it refuses an absolute path or one that
     * leaves that directory (design §3: the device's operator, not the hub, owns its disk).
     */
    path: z.string().min(1).max(255).optional(),
    /** `telemetry-confirm`: the highest telemetry seq of this device the hub has committed. */
    telemetrySeq: TelemetrySeq.optional(),
    /**
     * `telemetry-confirm`: the committed seqs as ranges (every seq in each is committed). Ranges, not only the
     * high-water mark: a batch lost by the broker while a later one got through must not count as confirmed.
     */
    telemetryRanges: z
      .array(z.tuple([TelemetrySeq, TelemetrySeq]).refine(([from, to]) => from <= to, 'range from > to'))
      .min(1)
      .max(MAX_CONFIRM_RANGES)
      .optional(),
  })
  .superRefine((c, ctx) => {
    if (c.action === 'batch') {
      if (c.model === undefined) ctx.addIssue({ code: 'custom', path: ['model'], message: 'batch needs model' });
      if (c.path === undefined) ctx.addIssue({ code: 'custom', path: ['path'], message: 'batch needs path' });
      return;
    }
    if (c.action !== 'telemetry-confirm') return;
    if (c.telemetrySeq === undefined) ctx.addIssue({ code: 'custom', path: ['telemetrySeq'], message: 'telemetry-confirm needs telemetrySeq' });
    if (!c.telemetryRanges) ctx.addIssue({ code: 'custom', path: ['telemetryRanges'], message: 'telemetry-confirm needs telemetryRanges' });
    else if (c.telemetrySeq !== undefined && c.telemetryRanges.some(([, to]) => to > c.telemetrySeq!)) {
      ctx.addIssue({ code: 'custom', path: ['telemetryRanges'], message: 'a range ends above telemetrySeq' });
    }
  });
export type Command = z.infer<typeof Command>;

// ---- artifact transfer (design §4) ----

export const ChunkRequest = z.object({
  sha256: Sha256Hex,
  chunks: z.array(z.number().int().min(0)).min(1).max(LIMITS.chunkWindow),
  /**
   * The device listens on the artifact's multicast topic (its SUBACK granted it). An external broker shows
   * the hub no subscriptions, so there the hub goes by this (design §4 multicast); the embedded one knows.
   */
  multicast: z.boolean().optional(),
});
export type ChunkRequest = z.infer<typeof ChunkRequest>;
