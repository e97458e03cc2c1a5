// @edgefleet/hub: the fleet manager (design §7). Public face: startHub and its types.
export { startHub, type Hub, type HubOptions } from './hub.js';
export type { DeviceView } from './devices/registry.js';
export type { RolloutView, RolloutRequest } from './desired/desired.js';
export type { FleetStatus, VersionHealth } from './telemetry/fleet-status.js';
export type { ModelVersionView, PushResult } from './models/registry.js';
export { mosquittoPasswordHash } from './broker/mosquitto.js';
export { createPacketScanner } from './broker/packet-limit.js';
// what the HTTP API answers, for clients typed with it (the CLI: cli/api.ts)
export type { Role } from './store/db.js';
export type { AuditVerification } from './trust/audit.js';
export type { HealthReport } from './http/health-api.js'; // moves to telemetry/ with the one health merge
