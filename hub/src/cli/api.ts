// What the hub's HTTP API answers and takes (design §7), as the CLI reads and sends it. Every type comes
// from the hub's face (../index.ts): the room types the routes return, or the answer of the service
// method a route returns, so changing what a route answers fails to compile here. Type-only.

import type { AuditVerification, CapturePolicy, CapturePolicyInput, FleetStatus, HealthGroups, HealthReport, Hub, PushResult, Role, RolloutRequest } from '../index.js';

export type { AuditVerification, CapturePolicy, CapturePolicyInput, FleetStatus, HealthGroups, HealthReport, PushResult, RolloutRequest };

type Services = Hub['services'];

// ---- devices ----
export type DeviceView = Awaited<ReturnType<Services['devices']['get']>>;
/** POST /devices */
export interface DeviceRequest {
  id: Parameters<Services['devices']['add']>[0];
  tags?: Parameters<Services['devices']['add']>[1];
}
/** POST /devices: the device, its token and agent config, shown once. */
export type DeviceAdded = Awaited<ReturnType<Services['devices']['add']>>;
/** GET /devices */
export interface DeviceList {
  devices: DeviceView[];
}
/** GET /devices/:id: the device with its latest events. */
export interface DeviceDetail {
  device: DeviceView;
  events: Awaited<ReturnType<Services['ctx']['store']['eventsForDevice']>>;
}
/** PATCH /devices/:id */
export interface DeviceTagsRequest {
  tags: Parameters<Services['devices']['setTags']>[1];
}
export interface DeviceUpdated {
  device: Awaited<ReturnType<Services['devices']['setTags']>>;
}
/** DELETE /devices/:id, DELETE /webhooks/:id */
export interface Removed {
  removed: string;
}
/** POST /devices/:id/enrolment */
export interface EnrolmentRequest {
  ttl?: string;
}
/** POST /devices/:id/enrolment: the one-time code (shown once) and the device page's link carrying it. */
export type EnrolmentCreated = Awaited<ReturnType<Services['devices']['enrol']>>;
/** POST /devices/:id/commands */
export interface CommandRequest {
  action: Parameters<Services['commands']['send']>[1];
  model?: string;
  path?: string;
}
export interface CommandSent {
  command: Awaited<ReturnType<Services['commands']['send']>>;
}

// ---- models ----
/** GET /models */
export interface ModelList {
  models: Awaited<ReturnType<Services['models']['list']>>;
}
/** GET /models/:name */
export type ModelDetail = Awaited<ReturnType<Services['models']['get']>>;

// ---- rollouts ----
export type RolloutDetail = Awaited<ReturnType<Services['rollouts']['get']>>;
/** POST /rollouts, GET /rollouts/:id, POST /rollouts/:id/{pause,resume,abort,promote} */
export interface RolloutAnswer {
  rollout: RolloutDetail;
}
/** GET /rollouts */
export interface RolloutList {
  rollouts: RolloutDetail[];
}

// ---- tokens, webhooks ----
/** POST /tokens */
export interface TokenRequest {
  role: Role;
  name?: string;
}
/** POST /tokens: the token, shown once (http/ builds it; a client may not import http/). */
export interface TokenCreated {
  id: string;
  token: string;
  role: Role;
}
export type WebhookTarget = Awaited<ReturnType<Services['notifier']['targets']>>[number];
/** GET /webhooks */
export interface WebhookList {
  webhooks: WebhookTarget[];
  events: Array<Parameters<Services['notifier']['emit']>[0]>;
}
/** POST /webhooks */
export interface WebhookRequest {
  url: string;
}
export interface WebhookAdded {
  webhook: WebhookTarget;
}
/** GET /webhooks/deliveries */
export interface DeliveryLog {
  deliveries: Awaited<ReturnType<Services['notifier']['deliveries']>>;
  stats: Awaited<ReturnType<Services['notifier']['stats']>>;
}

// ---- datasets (design §2 `edgefleet data`) ----
/** GET /datasets, and the body of POST /datasets/:model/:version/export. */
export type { DatasetExportRequestBody as DatasetExportBody, DatasetListView as DatasetListBody } from '../index.js';

// ---- capture policies (design §2 `edgefleet data capture`, §4 capture) ----
/** GET /capture-policies */
export interface CapturePolicyList {
  policies: CapturePolicy[];
}
/** PUT, DELETE /capture-policies/:model/:version: the policy now in force and the devices re-issued a desired state. */
export interface CapturePolicyChanged {
  policy: CapturePolicy | null;
  devices: number;
}
