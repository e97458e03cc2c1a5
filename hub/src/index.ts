// @edgefleet/hub: the fleet manager (design §7). Public face: startHub and its types.
export { startHub, type Hub, type HubOptions } from './hub.js';
export { checkDbTarget } from './store/db.js';
export type { DeviceView, Enrolled, EnrolmentLink } from './devices/index.js';
export type { RolloutView, RolloutRequest } from './desired/index.js';
export type { FleetStatus, FleetVersionHealth, VersionHealth } from './telemetry/index.js';
export { DEFAULT_GATES, type GateConfig } from './rollouts/index.js';
export type { ModelVersionView, PushResult } from './models/registry.js';
export { mosquittoPasswordHash } from './broker/mosquitto.js';
export { createPacketScanner } from './broker/packet-limit.js';
// what the HTTP API answers, for clients typed with it (the CLI: cli/api.ts)
export type { Role, RolloutTargets } from './store/db.js';
export type { AuditVerification } from './trust/audit.js';
export type { FleetOverview, GroupHealth, HealthGroups, HealthReport, TagIndex } from './telemetry/index.js';
export type { DeviceFailure, GateResult, GateView, RolloutDetail, RolloutStatus, WaveView } from './rollouts/index.js';
export type { RolloutCommand } from './rollouts/runner.js';
export type { ModelRegistry } from './models/registry.js';
export type { DatasetExportRequestBody, DatasetListView } from './store/captures.js';
export type { CapturePolicyInput, CapturePolicyView as CapturePolicy } from './store/capture-policies.js';
