// The hub's HTTP API under /api/v1 (design §7), assembled: hono sub-apps per domain (routes/), mounted with
// `app.route`; one guard checks the caller's role before any body is read, from the route → role table
// their RouteDocs make (guard.ts); one onError maps EdgefleetError codes to HTTP status (errors.ts);
// plus /metrics, the OpenAPI document, the dashboard and the browser device page (/device).

import { Hono } from 'hono';
import { API_PREFIX, createGuard, type GuardEnv } from './guard.js';
import { apiErrorHandler, notFound } from './errors.js';
import { buildOpenApi, type RouteDoc } from './openapi.js';
import { apiRoutes, type ApiDeps, type ApiRoutes } from './api-routes.js';
import { OpenApiDocument } from './schemas.js';
import { HUB_VERSION } from '../metrics.js';
import { artifactRoutes, auditRoutes, captureRoutes, datasetRoutes, deviceRoutes, enrolmentRoutes, healthRoutes, fleetRoutes, modelRoutes, rolloutRoutes, tokenRoutes, webhookRoutes } from './routes/index.js';
import { mountDashboard } from '../dashboard/index.js';
import { mountDevicePage } from '../device-page/index.js';

export type { ApiDeps } from './api-routes.js';

export function createApi(deps: ApiDeps): Hono<GuardEnv> {
  const { ctx } = deps;
  const { store, metrics } = ctx;
  const app = new Hono<GuardEnv>();
  const docs: RouteDoc[] = [];
  // design §7: one table says who may call each route; the guard enforces it before any body is read
  const guard = createGuard({ store, devices: deps.devices });
  const doc = (d: RouteDoc) => {
    docs.push(d);
    guard.add({ method: d.method, path: d.path, access: d.role, ...(d.multipart ? { body: 'upload' as const } : {}), ...(d.bodyMax !== undefined ? { bodyMax: d.bodyMax } : {}) });
  };

  app.onError(apiErrorHandler(ctx));
  app.notFound(notFound);
  app.use('*', async (c, next) => {
    await next();
    metrics.inc('edgefleet_http_requests_total', { status: `${Math.floor(c.res.status / 100)}xx` });
  });
  app.use('*', guard.middleware);

  metrics.gauge('edgefleet_build_info', 'The build answering: always 1, labelled with the hub and Node.js versions.', () => [{ labels: { version: HUB_VERSION, node: process.version }, value: 1 }]);
  app.get('/metrics', async (c) => {
    await metrics.refresh();
    return c.text(metrics.render(), 200, { 'content-type': 'text/plain; version=0.0.4' });
  });
  mountDashboard(app); // design §7: dashboard at /
  mountDevicePage(app, deps.devicePage); // the browser device page at /device, static and open like /

  // in this order in the OpenAPI document
  const domains = [healthRoutes(deps), deviceRoutes(deps), enrolmentRoutes(deps), modelRoutes(deps), rolloutRoutes(deps), fleetRoutes(deps), tokenRoutes(deps), auditRoutes(deps), webhookRoutes(deps), artifactRoutes(deps), datasetRoutes(deps), captureRoutes(deps), documentRoutes(docs, deps.version ?? HUB_VERSION)];
  for (const routes of domains) {
    routes.docs.forEach(doc);
    app.route(API_PREFIX, routes.app);
  }
  return app;
}

/** GET /api/v1/openapi.json: the document of every route, itself included (built once, on first request). */
function documentRoutes(docs: readonly RouteDoc[], version: string): ApiRoutes {
  const { app, docs: own, route } = apiRoutes();
  let document: OpenApiDocument | undefined;
  route({ method: 'get', path: '/openapi.json', summary: 'This OpenAPI 3.1 document', role: 'none', responses: { 200: OpenApiDocument } }, (_c, io) => {
    document ??= buildOpenApi(docs, version) as OpenApiDocument;
    return io.json(200, document);
  });
  return { app, docs: own };
}
