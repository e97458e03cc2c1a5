// The API's response bodies as zod schemas (design §7), reusing protocol's where the wire already has one
// (ReportedState, Manifest, Envelope, DesiredState, Command, AgentConfig). Routes answer through them
// (RouteIo.json checks a body against its status's schema at compile time) and the OpenAPI document shows
// them; COMPONENTS names the ones a client sees in several places.

import { z } from 'zod';
import { AgentConfig, Command, DesiredState, DeviceId, Envelope, ErrorCodeSchema, IsoTime, Manifest, ModelName, ReportedState, SemVer, Sha256Hex } from '@edgefleet/protocol';

const Count = z.number().int().min(0);
const Rate = z.number().nullable();
const Quantiles = z.object({ p50: z.number().nullable(), p95: z.number().nullable(), p99: z.number().nullable() });

/** Raw bytes (an artifact download). */
export const Bytes = z.string().meta({ format: 'binary' });
export const ApiError = z.object({ error: z.object({ code: ErrorCodeSchema, message: z.string() }) });

// ---- devices ----
export const Device = z.object({
  id: DeviceId,
  tags: z.record(z.string(), z.string()),
  createdAt: IsoTime,
  status: z.enum(['online', 'offline']),
  statusAt: IsoTime.nullable(),
  lastSeen: IsoTime.nullable(),
  reported: ReportedState.nullable().describe('as the device last reported it'),
  reportedAt: IsoTime.nullable(),
  desiredSequence: z.number().int().nullable(),
});
export const DeviceEventRow = z.object({
  id: z.number().int(),
  deviceId: DeviceId,
  type: z.string(),
  model: z.string().nullable(),
  version: z.string().nullable(),
  code: z.string().nullable(),
  message: z.string(),
  at: IsoTime,
});
export const DeviceList = z.object({ devices: z.array(Device), total: Count.optional().describe('with `limit`: devices matching the filter') });
export const DeviceDetail = z.object({ device: Device, events: z.array(DeviceEventRow).describe('newest first') });
export const DeviceOne = z.object({ device: Device });
export const DeviceCreated = z.object({ device: Device, token: z.string().describe('shown once'), agentConfig: AgentConfig });
export const Removed = z.object({ removed: z.string() });
export const DeviceDesired = z.object({
  sequence: z.number().int(),
  issuedAt: IsoTime,
  expiresAt: IsoTime,
  artifacts: z.array(Sha256Hex),
  envelope: Envelope,
  desired: DesiredState.describe('the envelope payload, decoded'),
});
export type DeviceDesired = z.infer<typeof DeviceDesired>;
export const CommandSent = z.object({ command: Command });
export const EnrolmentLink = z.object({ deviceId: DeviceId, code: z.string().describe('shown once'), url: z.string(), expiresAt: IsoTime });
export const Enrolled = z.object({ deviceId: DeviceId, agentConfig: AgentConfig });

// ---- models ----
export const ModelVersion = z.object({
  model: ModelName,
  version: SemVer,
  release: z.number().int(),
  sha256: Sha256Hex,
  size: Count,
  createdAt: IsoTime,
  metrics: z.record(z.string(), z.number()),
  manifest: Manifest,
});
export const Model = z.object({ name: ModelName, versions: z.array(ModelVersion) });
export const ModelList = z.object({ models: z.array(Model) });
export const ModelPushed = z.object({ model: ModelName, version: SemVer, release: z.number().int(), sha256: Sha256Hex, manifest: Manifest, envelope: Envelope });

// ---- rollouts ----
const GateName = z.enum(['device-failure-rate', 'min-reporting-devices', 'error-rate', 'p95-latency-regression', 'drift', 'accuracy-drop', 'estimated-accuracy-drop', 'shadow-agreement']);
export const GateConfig = z.object({
  maxDeviceFailureRate: z.number(),
  maxErrorRate: z.number(),
  maxErrorRateIncrease: z.number().optional(),
  maxP95RegressionPct: z.number(),
  minP95RegressionMs: z.number(),
  minSamples: z.number(),
  maxDriftedFeatures: z.number(),
  driftMinCount: z.number(),
  driftConfidence: z.number(),
  maxAccuracyDrop: z.number(),
  maxEstimatedAccuracyDrop: z.number().optional(),
  minLabelCoverage: z.number(),
  minLabels: z.number(),
  minReportingDevices: z.number(),
  minShadowAgreement: z.number().optional(),
  requireVerdict: z.array(GateName),
});
export const Gate = z.object({
  name: GateName,
  value: z.number().nullable().describe('null: nothing to measure'),
  limit: z.number(),
  pass: z.boolean().nullable().describe('null: no verdict (too little data)'),
  detail: z.string(),
  of: Count.optional().describe('out of how many the value counts (devices decided, features judged)'),
  missing: z
    .object({ have: z.number(), need: z.number(), unit: z.string() })
    .optional()
    .describe('no verdict for want of evidence more soaking can bring ("92 of 100 inferences"): the wave waits for it up to its max soak'),
  text: z.object({ value: z.string(), limit: z.string() }).describe('value and limit in the gate’s unit'),
});
const DeviceOutcomes = <T extends z.ZodType>(t: T) => z.object({ pending: t, converged: t, failed: t, skipped: t, left: t, rolledBack: t });
export const Wave = z.object({
  index: Count,
  percent: z.number(),
  outcome: z.enum(['rolling', 'soaking', 'passed', 'failed', 'no-evidence', 'overridden']).describe('no-evidence: paused at the max soak, gates still lacking evidence'),
  startedAt: IsoTime,
  doneAt: IsoTime.nullable(),
  gatesAt: IsoTime.nullable(),
  devices: Count,
  converged: Count,
  counts: DeviceOutcomes(Count).extend({ total: Count }),
  byOutcome: DeviceOutcomes(z.array(DeviceId)),
  failures: z.array(z.object({ deviceId: DeviceId, code: z.string().nullable(), message: z.string().nullable() })),
  gates: z.array(Gate),
  ended: z.object({ how: z.enum(['passed', 'failed', 'overridden', 'rolled-back', 'aborted', 'superseded', 'completed']), at: IsoTime }).nullable().describe('set once the wave ended: its counts are then frozen'),
});
const P50P95 = z.object({ p50: z.number().nullable(), p95: z.number().nullable() });
export const Rollout = z.object({
  id: z.string(),
  model: ModelName,
  version: SemVer,
  role: z.enum(['active', 'shadow']),
  targets: z.object({ all: z.boolean().optional(), tags: z.array(z.record(z.string(), z.string())).optional(), devices: z.array(DeviceId).optional() }),
  options: z.record(z.string(), z.unknown()),
  status: z.string().describe('running, soaking, paused, completed, rolled-back, aborted, superseded…'),
  createdAt: IsoTime,
  updatedAt: IsoTime,
  devices: Count,
  plan: z
    .object({
      waves: z.array(z.number()),
      soakMs: Count,
      maxSoakMs: Count,
      onFail: z.enum(['pause', 'rollback']),
      onNoEvidence: z.enum(['pause', 'pass', 'fail']),
      shadow: z.boolean(),
      deviceTimeoutMs: Count,
      gates: GateConfig,
    })
    .nullable()
    .describe('null: issued all at once'),
  wave: z.number().int().describe('current wave (0-based), -1 before the first'),
  waves: z.array(Wave),
  gates: z.array(Gate).describe('the latest evaluated gates'),
  returned: z.object({ deviceIds: z.array(DeviceId), running: z.record(z.string(), Count) }).nullable(),
  waitingFor: z
    .object({
      wave: Count,
      until: IsoTime.describe('the max soak ends: then the onNoEvidence policy applies'),
      missing: z.array(z.object({ gate: GateName, have: z.number(), need: z.number(), unit: z.string(), text: z.string() })),
    })
    .nullable()
    .describe('the current wave soaks on past its soak for gates that still lack evidence'),
  pausedReason: z.string().nullable(),
  supersededBy: z.string().nullable(),
  shadow: z.object({ compared: Count, agreed: Count, agreement: Rate, latencyMs: z.object({ shadow: P50P95, active: P50P95 }) }).nullable(),
});
export const RolloutOne = z.object({ rollout: Rollout });
export const RolloutList = z.object({ rollouts: z.array(Rollout) });

// ---- fleet and health ----
const HealthSummary = z.object({ inferences: Count, errors: Count, errorRate: Rate, latencyMs: Quantiles });
export const FleetStatus = z.object({
  at: IsoTime,
  sinceMinutes: z.number(),
  devices: z.object({ total: Count, online: Count, offline: Count }),
  versions: z.array(z.object({ model: z.string(), version: z.string(), devices: Count })),
  unknownClaims: Count,
  health: z.array(HealthSummary.extend({ model: z.string(), version: z.string(), role: z.enum(['active', 'shadow']), running: Count, reportingDevices: Count })),
  rollouts: z.object({ total: Count, active: Count }),
  activeRollouts: z.array(
    z.object({ id: z.string(), model: z.string(), version: z.string(), role: z.string(), status: z.string(), wave: z.number().int(), waves: z.array(z.number()), percent: z.number().nullable(), pausedReason: z.string().nullable() }),
  ),
});
const DriftVerdict = z.enum(['drift', 'no-drift', 'insufficient-data']);
const FeatureDrift = z.object({ feature: z.string(), psi: z.number(), js: z.number(), ks: z.number(), critical: z.number().nullable(), verdict: DriftVerdict, n: Count });
const Accuracy = z.object({ labelled: Count, correct: Count, p: Rate, low: Rate, high: Rate, coverage: Rate });
export const HealthReport = z.object({
  model: ModelName,
  version: SemVer,
  device: z.string().nullable(),
  from: z.number().describe('epoch ms'),
  to: z.number().describe('epoch ms'),
  bucketMs: z.number(),
  totals: HealthSummary.extend({ devices: Count }),
  series: z.array(
    z.object({
      t: z.number(),
      inferences: Count,
      errors: Count,
      errorRate: Rate,
      p50: z.number().nullable(),
      p95: z.number().nullable(),
      p99: z.number().nullable(),
      labelled: Count,
      correct: Count,
      accuracy: Rate,
      confident: Count.describe('predictions with a top-class probability (CBPE)'),
      estimatedAccuracy: Rate.describe('mean top-class probability: accuracy without labels (CBPE)'),
      shadowCompared: Count,
      shadowAgreed: Count,
    }),
  ),
  drift: z.array(FeatureDrift),
  driftSeries: z.array(z.object({ t: z.number(), feature: z.string(), psi: z.number(), critical: z.number().nullable(), verdict: DriftVerdict })),
  predictionMix: z.object({ kind: z.enum(['classifier', 'regressor']).nullable(), labels: z.array(z.string()), reference: z.array(z.number()).nullable(), observed: z.array(z.number()).nullable(), n: Count }),
  accuracy: Accuracy,
  estimatedAccuracy: z
    .object({ n: Count, p: Rate, low: Rate, high: Rate, coverage: Rate, classes: z.array(z.object({ index: Count, n: Count, precision: Rate })).describe('per predicted class: its mean confidence, the estimated precision') })
    .describe('accuracy without labels (CBPE): mean top-class probability, with the 95 % band labels would show if the model is calibrated'),
  calibration: z
    .object({
      verdict: z.enum(['calibrated', 'not-calibrated', 'insufficient-data']),
      minLabels: Count,
      windows: z.array(z.object({ t: z.number(), labelled: Count, estimated: z.number(), realized: z.number(), absError: z.number() })),
      meanAbsError: z.number().nullable(),
      maxAbsError: z.number().nullable(),
      threshold: z.number().nullable(),
      detail: z.string(),
    })
    .describe('the estimate against realized accuracy on buckets with at least minLabels labels'),
  shadow: z.object({ compared: Count, agreed: Count, rate: z.number() }).nullable(),
});
export const HealthGroups = z.object({
  model: ModelName,
  version: SemVer,
  by: z.string().nullable().describe('the tag key grouped by; null: one group per device'),
  from: z.number().describe('epoch ms'),
  to: z.number().describe('epoch ms'),
  groups: z.array(
    HealthSummary.extend({
      value: z.string().nullable().describe('the tag value (or device id); null: devices without the tag'),
      devices: Count,
      drift: z.object({ worst: FeatureDrift.nullable().describe('drifted features first, then the highest PSI over its threshold'), drifted: Count, features: Count, text: z.string().describe('e.g. “temperature drifted (PSI 0.78 > 0.080), 1 of 3 features”') }),
      accuracy: Accuracy,
    }),
  ),
});
export const TagIndex = z.object({ tags: z.array(z.object({ key: z.string(), values: z.array(z.object({ value: z.string(), devices: Count })) })) });
export const FleetOverview = z.object({
  at: IsoTime,
  verdict: z.object({ level: z.enum(['healthy', 'degraded', 'failing']), reasons: z.array(z.object({ level: z.enum(['degraded', 'failing']), text: z.string() })) }),
  devices: z.object({ total: Count, online: Count, offline: Count, silent: Count, silentMinutes: z.number() }),
  events: z.array(DeviceEventRow).describe('device events, newest first'),
  actions: z.array(z.object({ id: z.number().int(), at: IsoTime, actor: z.string(), action: z.string(), details: z.unknown() })).describe('rollout actions from the audit log, newest first'),
  alarms: z.array(
    z.object({
      model: z.string(),
      version: z.string(),
      feature: z.string(),
      psi: z.number(),
      critical: z.number().nullable(),
      n: Count,
      message: z.string().describe('e.g. "site b: features.temperature PSI 0.78 > 0.08 (pump@2.0.0); … carries 31 % of this model\'s importance"'),
      raisedAt: IsoTime.nullable().describe('when the drift alarm was raised; null while the drift is seen but no alarm is open'),
    }),
  ),
});
export const WhoAmI = z.object({ id: z.string(), kind: z.enum(['token', 'device']), role: z.enum(['viewer', 'operator', 'admin']).nullable() });

// ---- tokens, audit, webhooks ----
export const TokenCreated = z.object({ id: z.string(), token: z.string().describe('shown once'), role: z.enum(['viewer', 'operator', 'admin']) });
export const AuditVerification = z.object({
  ok: z.boolean(),
  entries: Count,
  brokenAt: z.number().int().optional(),
  reason: z.enum(['content', 'prev-hash', 'link']).optional(),
  message: z.string().optional(),
  row: z.object({ id: z.number().int(), at: z.string(), actor: z.string(), action: z.string() }).optional(),
});
export const Webhook = z.object({ id: z.string(), url: z.string(), source: z.enum(['config', 'api']), createdAt: IsoTime.nullable(), createdBy: z.string().nullable() });
export const WebhookList = z.object({ webhooks: z.array(Webhook), events: z.array(z.string()) });
export const WebhookOne = z.object({ webhook: Webhook });
export const WebhookDeliveries = z.object({
  deliveries: z.array(
    z.object({
      id: z.number().int(),
      deliveryId: z.string(),
      eventId: z.string(),
      event: z.string(),
      url: z.string().describe('redacted unless the caller is an admin'),
      attempt: z.number().int(),
      status: z.number().int().nullable().describe('HTTP status; null when no response came'),
      error: z.string().nullable(),
      startedAt: IsoTime,
      finishedAt: IsoTime,
    }),
  ),
  stats: z.object({ queued: Count, waiting: Count, inFlight: Count, delivered: Count, failed: Count, dropped: Count, droppedFleet: Count, droppedDevice: Count, coalesced: Count, abandoned: Count }),
});

export const OpenApiDocument = z.looseObject({ openapi: z.literal('3.1.0'), info: z.looseObject({ title: z.string(), version: z.string() }), paths: z.record(z.string(), z.unknown()) });
export type OpenApiDocument = z.infer<typeof OpenApiDocument>;

/** Shown as named components of the OpenAPI document. */
export const COMPONENTS: Record<string, z.ZodType> = {
  Error: ApiError,
  Device,
  DeviceEvent: DeviceEventRow,
  ReportedState,
  AgentConfig,
  ModelVersion,
  Model,
  Manifest,
  Envelope,
  Rollout,
  Wave,
  Gate,
  GateConfig,
  Webhook,
};
