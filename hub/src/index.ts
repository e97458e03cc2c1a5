// @edgefleet/hub: the fleet manager (design §7). Public face: startHub and its types.
export { startHub, type Hub, type HubOptions } from './hub.js';
export type { DeviceView } from './devices.js';
export type { RolloutView, RolloutRequest } from './deployments.js';
export type { FleetStatus, VersionHealth } from './fleet.js';
export type { ModelVersionView, PushResult } from './model-registry.js';
export { mosquittoPasswordHash } from './mosquitto.js';
export { createPacketScanner } from './broker/packet-limit.js';
