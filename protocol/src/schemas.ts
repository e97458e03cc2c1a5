// zod schemas for every document and message of design §3, §4 and §6; each type shares its schema's name.
// Times in signed documents and events are ISO 8601 strings; telemetry window bounds are epoch milliseconds.

import { z } from 'zod';
import { DEVICE_ID_PATTERN } from './topics.js';
import { ERROR_CODES } from './errors.js';
import { LIMITS, TELEMETRY_LIMITS } from './limits.js';
import { HISTOGRAM_MAX_BUCKETS, HISTOGRAM_MIN_ALPHA } from './telemetry/histogram.js';
import { histogramIssue, windowIssue } from './telemetry/bounds.js';

export const DeviceId = z.string().regex(DEVICE_ID_PATTERN, 'device id must match [a-z0-9][a-z0-9-]{0,62}');
export const ModelName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'model name must match [a-z0-9][a-z0-9._-]{0,63}');
export const SemVer = z
  .string()
  .regex(/^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/, 'version must be semver');
export const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'sha256 must be 64 lowercase hex chars');
export const KeyId = z.string().regex(/^[0-9a-f]{16}$/, 'keyId must be 16 lowercase hex chars');
export const Base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');
export const IsoTime = z.iso.datetime({ offset: true });
export const ErrorCodeSchema = z.enum(ERROR_CODES);

// ---- signing envelope (design §3) ----

export const Signature = z.object({ keyId: KeyId, sig: Base64 });
export type Signature = z.infer<typeof Signature>;

export const Envelope = z.object({
  payload: Base64,
  signatures: z.array(Signature).min(1).max(16),
});
export type Envelope = z.infer<typeof Envelope>;

export const SIGNED_KINDS = ['keyring', 'model-manifest', 'desired-state', 'command'] as const;
export type SignedKind = (typeof SIGNED_KINDS)[number];

export const KeyRole = z.enum(['release', 'director']);
export type KeyRole = z.infer<typeof KeyRole>;

// ---- keyring ----

export const KeyringKey = z.object({
  keyId: KeyId,
  publicKey: Base64,
  roles: z.array(KeyRole).min(1),
});
export type KeyringKey = z.infer<typeof KeyringKey>;

export const Keyring = z.object({
  kind: z.literal('keyring'),
  version: z.number().int().min(1),
  expiresAt: IsoTime,
  keys: z.array(KeyringKey).max(64),
  threshold: z.object({ release: z.number().int().min(1), director: z.number().int().min(1) }),
  revokedKeyIds: z.array(KeyId).max(1024).default([]),
  releaseFloors: z.record(ModelName, z.number().int().min(0)).default({}),
});
export type Keyring = z.infer<typeof Keyring>;

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
    action: z.enum(['rollback', 'flush-telemetry', 'resync', 'telemetry-confirm']),
    model: ModelName.optional(),
    reason: z.string().max(512).optional(),
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
});
export type ChunkRequest = z.infer<typeof ChunkRequest>;

// ---- reported state, status, events ----

export const InstalledVersion = z.object({
  version: SemVer,
  release: z.number().int().min(1),
  sha256: Sha256Hex,
});
export type InstalledVersion = z.infer<typeof InstalledVersion>;

export const ModelState = z.enum([
  'idle',
  'downloading',
  'verifying',
  'self-testing',
  'active',
  'probation',
  'rolled-back',
  'failed',
]);
export type ModelState = z.infer<typeof ModelState>;

export const ReportedModel = z.object({
  active: InstalledVersion.nullable(),
  previous: InstalledVersion.nullable(),
  shadow: InstalledVersion.nullable(),
  /** The version being installed right now, if any. */
  pending: InstalledVersion.nullable().default(null),
  state: ModelState,
  progress: z.number().min(0).max(1).optional(),
  error: z.object({ code: ErrorCodeSchema, message: z.string().max(1024) }).nullable().default(null),
  rolloutId: z.string().max(64).optional(),
});
export type ReportedModel = z.infer<typeof ReportedModel>;

export const ReportedState = z.object({
  deviceId: DeviceId,
  agentVersion: SemVer,
  runtime: z.string().max(64),
  platform: z.string().max(64),
  desiredSequence: z.number().int().min(0),
  keyringVersion: z.number().int().min(0),
  models: z.record(ModelName, ReportedModel),
  resources: z
    .object({
      diskFreeBytes: z.number().min(0).optional(),
      rssBytes: z.number().min(0).optional(),
      uptimeSeconds: z.number().min(0).optional(),
    })
    .default({}),
  at: IsoTime,
});
export type ReportedState = z.infer<typeof ReportedState>;

export const DeviceStatus = z.enum(['online', 'offline']);
export type DeviceStatus = z.infer<typeof DeviceStatus>;

export const EVENT_TYPES = [
  'activated',
  'rolled-back',
  'verification-failed',
  'download-failed',
  'self-test-failed',
  'load-failed',
  'probation-passed',
  'shadow-started',
  'outbox-dropped',
  'keyring-updated',
  'error',
] as const;

export const DeviceEvent = z.object({
  type: z.enum(EVENT_TYPES),
  model: ModelName.optional(),
  version: SemVer.optional(),
  code: ErrorCodeSchema.optional(),
  message: z.string().max(2048),
  at: IsoTime,
});
export type DeviceEvent = z.infer<typeof DeviceEvent>;

// ---- telemetry (design §6) ----

/** Any count in one window: bounded (TELEMETRY_LIMITS.count), so sums over many windows stay exact. */
const Count = z.number().int().min(0).max(TELEMETRY_LIMITS.count);
const ClassIndex = z.number().int().min(0).max(TELEMETRY_LIMITS.classes - 1);

/** A refinement from telemetry/bounds.ts: the same function the hub's fast path calls. */
const refineWith =
  <T>(issue: (v: T) => string | null) =>
  (v: T, ctx: z.RefinementCtx) => {
    const message = issue(v);
    if (message !== null) ctx.addIssue({ code: 'custom', message });
  };

/**
 * Log-bucketed latency histogram (DDSketch-style): bucket i holds values in (γ^(i-1), γ^i] with
 * γ = (1+α)/(1-α); `counts[k]` is bucket `offset + k`. Values ≤ `minIndexable` go to `zeros`. Every
 * bucket lies in histogramIndexRange(alpha) and the buckets hold `count` (telemetry/bounds.ts).
 */
export const Histogram = z
  .object({
    alpha: z.number().min(HISTOGRAM_MIN_ALPHA).max(0.5),
    count: Count,
    sum: z.number(),
    min: z.number().nullable(),
    max: z.number().nullable(),
    zeros: Count,
    offset: z.number().int(),
    counts: z.array(Count).max(HISTOGRAM_MAX_BUCKETS),
  })
  .superRefine(refineWith(histogramIssue));
export type Histogram = z.infer<typeof Histogram>;

/** Counts of one feature in its reference bins (edges.length + 1 entries), plus moments. */
export const FeatureSummary = z.object({
  bins: z.array(Count).max(65),
  nulls: Count,
  count: Count,
  sum: z.number(),
  sumSq: z.number(),
  min: z.number().nullable(),
  max: z.number().nullable(),
});
export type FeatureSummary = z.infer<typeof FeatureSummary>;

export const CONFIDENCE_BINS = 10;

export const OutputSummary = z.object({
  /** Classifiers: predictions per class index. */
  classCounts: z.array(Count).max(TELEMETRY_LIMITS.classes).optional(),
  /** Classifiers: top-class confidence in CONFIDENCE_BINS equal bins over [0, 1]. */
  confidence: z.array(Count).max(CONFIDENCE_BINS).optional(),
  /** Regressors: counts in the reference output bins. */
  valueBins: z.array(Count).max(65).optional(),
});
export type OutputSummary = z.infer<typeof OutputSummary>;

export const LabelSummary = z.object({
  labelled: Count,
  correct: Count,
  /** Sparse confusion counts: [predicted, actual, count]. */
  confusion: z.array(z.tuple([ClassIndex, ClassIndex, Count])).max(TELEMETRY_LIMITS.confusion),
});
export type LabelSummary = z.infer<typeof LabelSummary>;

export const ShadowSummary = z.object({
  compared: Count,
  agreed: Count,
  dropped: Count,
  latencyMs: Histogram,
});
export type ShadowSummary = z.infer<typeof ShadowSummary>;

/** One device window; its parts fit together (telemetry/bounds.ts windowIssue: start ≤ end, ≤ 1 h, …). */
export const TelemetryWindow = z
  .object({
  model: ModelName,
  version: SemVer,
  role: z.enum(['active', 'shadow']),
  /** Window bounds, epoch milliseconds; a late-label delta carries its original window's bounds. */
  start: z.number().int().min(0),
  end: z.number().int().min(0),
  inferences: Count,
  errors: z.partialRecord(ErrorCodeSchema, Count).default({}),
  latencyMs: Histogram,
  features: z.record(z.string().max(128), FeatureSummary).default({}),
  outputs: OutputSummary.optional(),
  labels: LabelSummary.optional(),
  shadow: ShadowSummary.optional(),
  })
  .superRefine(refineWith((w) => windowIssue(w)));
export type TelemetryWindow = z.infer<typeof TelemetryWindow>;

export const TelemetryBatch = z.object({
  deviceId: DeviceId,
  seq: z.number().int().min(0),
  windows: z.array(TelemetryWindow).max(LIMITS.windowsPerBatch),
  /** Windows the agent's outbox dropped (oldest first) since its last batch. */
  dropped: Count.default(0),
  /**
   * The device keeps this batch until a `telemetry-confirm` names its seq (design §4, TelemetrySettings
   * `confirm`): the hub confirms only batches that say so, so a device that does not know the command never gets one.
   */
  confirm: z.boolean().optional(),
});
export type TelemetryBatch = z.infer<typeof TelemetryBatch>;

// ---- agent configuration (what `edgefleet device add --out` writes, design §2) ----

/** A Host header value the agent's local API answers besides its bind address and loopback (design §5): `name` or `name:port`, IPv6 in brackets. */
export const ApiHost = z.string().regex(/^([A-Za-z0-9_.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(:\d{1,5})?$/, 'a host name, IPv4 or [IPv6], optionally :port');

export const AgentConfig = z.object({
  deviceId: DeviceId,
  brokers: z.object({ tcp: z.string().url().optional(), ws: z.string().url().optional() }),
  username: z.string().min(1).max(128),
  password: z.string().min(16).max(256),
  /** Pinned root public key, base64 (design §3). */
  rootPublicKey: Base64,
  /** Hub HTTP base URL, for range-request artifact downloads. */
  hubUrl: z.string().url().optional(),
  dataDir: z.string().min(1).default('./edgefleet-agent-data'),
  api: z.string().default('127.0.0.1:8090'),
  /** The local API's extra Host names and per-request caps (design §5); the agent's defaults when left out. */
  localApi: z
    .object({
      hosts: z.array(ApiHost).max(64).optional(),
      maxBodyBytes: z.number().int().min(1024).max(1024 * 1024 * 1024).optional(),
      maxElements: z.number().int().min(1).max(2 ** 31).optional(),
      maxRows: z.number().int().min(1).max(2 ** 31).optional(),
    })
    .optional(),
});
export type AgentConfig = z.infer<typeof AgentConfig>;
