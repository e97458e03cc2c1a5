// The HTTP API's bodies as types (design §7), for clients such as the CLI: every answer is named after
// the room function the route returns, so changing what a route answers fails to compile where it is
// read. Type-only: importing this file loads nothing. The health report, the token answer and the
// request schemas of devices, commands and tokens are still defined in http/ (type imports only).

import type { z } from 'zod';
import type { Command } from '@edgefleet/protocol';
import type { DeviceRegistry, DeviceView } from './devices/registry.js';
import type { ModelRegistry, ModelVersionView, PushResult } from './models/registry.js';
import type { RolloutRequest, RolloutView } from './desired/desired.js';
import type { RolloutDetail } from './rollouts/runner.js';
import type { FleetStatus, VersionHealth } from './telemetry/fleet-status.js';
import type { AuditVerification } from './trust/audit.js';
import type { DeliveryRow, NotifierStats, WebhookCreate, WebhookEvent, WebhookTarget } from './notify/webhooks.js';
import type { Store } from './store/db.js';
import type { HealthReport } from './http/health-api.js';
import type { createApiToken } from './http/auth.js';
import type { CommandCreate, DeviceCreate, DevicePatch, TokenCreate } from './http/app.js';

export type { Command, DeviceView, ModelVersionView, PushResult, RolloutRequest, RolloutView, RolloutDetail, FleetStatus, VersionHealth, AuditVerification, HealthReport };
export type { DeliveryRow, NotifierStats, WebhookTarget };

// ---- devices ----
/** POST /devices */
export type DeviceRequest = z.input<typeof DeviceCreate>;
/** PATCH /devices/:id */
export type DeviceTagsRequest = z.input<typeof DevicePatch>;
/** POST /devices/:id/commands */
export type CommandRequest = z.input<typeof CommandCreate>;
/** POST /devices: the device, its token and agent config, shown once. */
export type DeviceAdded = ReturnType<DeviceRegistry['add']>;
/** GET /devices */
export interface DeviceList {
  devices: DeviceView[];
}
/** GET /devices/:id: the device with its latest events. */
export interface DeviceDetail {
  device: DeviceView;
  events: ReturnType<Store['eventsForDevice']>;
}
/** PATCH /devices/:id */
export interface DeviceUpdated {
  device: DeviceView;
}
/** DELETE /devices/:id, DELETE /webhooks/:id */
export interface Removed {
  removed: string;
}
/** POST /devices/:id/commands */
export interface CommandSent {
  command: Command;
}

// ---- models ----
/** GET /models */
export interface ModelList {
  models: ReturnType<ModelRegistry['list']>;
}
/** GET /models/:name */
export type ModelDetail = ReturnType<ModelRegistry['get']>;

// ---- rollouts ----
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
export type TokenRequest = z.input<typeof TokenCreate>;
/** POST /tokens: the token, shown once. */
export type TokenCreated = ReturnType<typeof createApiToken>;
/** GET /webhooks */
export interface WebhookList {
  webhooks: WebhookTarget[];
  events: readonly WebhookEvent[];
}
/** POST /webhooks */
export type WebhookRequest = z.input<typeof WebhookCreate>;
export interface WebhookAdded {
  webhook: WebhookTarget;
}
/** GET /webhooks/deliveries */
export interface DeliveryLog {
  deliveries: DeliveryRow[];
  stats: NotifierStats;
}
