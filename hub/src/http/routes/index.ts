// http/routes/: one sub-app per domain of /api/v1, each with the RouteDocs the guard authorizes from
// (api-routes.ts). Listed in the order the OpenAPI document shows them; app.ts mounts them with app.route.
// May import what http/ may; nothing here checks a role itself.

export { healthRoutes } from './health.js';
export { deviceRoutes } from './devices.js';
export { enrolmentRoutes } from './enrolment.js';
export { modelRoutes } from './models.js';
export { rolloutRoutes } from './rollouts.js';
export { fleetRoutes } from './fleet.js';
export { tokenRoutes } from './tokens.js';
export { auditRoutes } from './audit.js';
export { webhookRoutes } from './webhooks.js';
export { artifactRoutes } from './artifacts.js';
export { datasetRoutes } from './datasets.js';
export { captureRoutes } from './capture.js';
// the request schemas, for clients typed with the API's own types
export { CommandCreate, DeviceCreate, DevicePatch } from './devices.js';
export { EnrolmentCreate, EnrolmentRedeem } from './enrolment.js';
export { TokenCreate } from './tokens.js';
export { WebhookCreate } from './webhooks.js';
export { DatasetExportRequest } from './datasets.js';
export { CapturePolicyBody } from './capture.js';
