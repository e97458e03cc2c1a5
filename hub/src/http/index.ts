// http/: the hub's HTTP API (design §7). app.ts assembles it: a sub-app per domain (routes/), one guard
// that authorizes every request from the route → role table before any body is read (guard.ts), one
// error mapping (errors.ts), the OpenAPI document (openapi.ts). May import every room except cli/;
// only the composition (hub.ts) imports http/.

export { createApi, type ApiDeps } from './app.js';
export { createApiToken, loadOrCreateAdminToken } from './auth.js';
// the request schemas, for clients typed with the API's own types
export { CommandCreate, DeviceCreate, DevicePatch, TokenCreate, WebhookCreate } from './routes/index.js';
