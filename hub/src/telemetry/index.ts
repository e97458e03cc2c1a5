// The telemetry room (design §4, §6, §7): ingest of device messages (fast check, policy, rate limits, event
// log, confirmations), the one merge of telemetry windows (merge.ts) and what reads merged health — the
// health API's domain, fleet status and the alarms. May import protocol, context, store/, devices/ (commands
// for confirmations) and notify/ (the notifier type); never http/ or rollouts/.
export { createIngest, ROLLUP_MS, type Ingest, type IngestOptions } from './ingest.js';
export { createEventLog, type EventLog, type EventLogOptions } from './event-log.js';
export { createDeviceRateLimits, createKeyedRateLimit, type DeviceRateLimits, type DeviceRateLimitOptions, type KeyedRateLimit, type RateLimit } from './rate-limit.js';
export { createTelemetryConfirmer, type TelemetryConfirmer } from './confirm.js';
export { createAlarms, ALARM_DEFAULTS, type AlarmOptions, type Alarms, type AlarmCheck } from './alarms.js';
export { createHealthMerge, mergeHealth, summarizeHealth, type HealthMerge, type HealthSummary, type VersionHealth } from './merge.js';
export {
  computeHealth,
  fleetOverview,
  windowsOf,
  type FeatureDrift,
  type FleetOverview,
  type HealthPoint,
  type HealthQuery,
  type HealthReport,
} from './health.js';
export { computeHealthGroups, tagIndex, worstDrift, type GroupHealth, type HealthGroups, type HealthGroupsQuery, type TagIndex } from './health-groups.js';
export { CALIBRATION_MIN_LABELS, CALIBRATION_TOLERANCE, checkCalibration, estimateAccuracy, type Calibration, type EstimatedAccuracy } from './estimate.js';
export { fleetStatus, type FleetStatus, type FleetVersionHealth } from './fleet-status.js';
