// The guard authorizes from the RouteDocs alone (no route checks a role itself), so a route without a doc
// would fall to the guard's default, and a doc without a route would document nothing: each domain's
// sub-app and its docs must name the same (method, path) pairs.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ApiDeps, ApiRoutes } from '../api-routes.js';
import { artifactRoutes, auditRoutes, deviceRoutes, fleetRoutes, modelRoutes, rolloutRoutes, tokenRoutes, webhookRoutes } from './index.js';

const dataDir = mkdtempSync(join(tmpdir(), 'edgefleet-routes-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

// the factories only keep their services for the handlers; none is called while the routes are built
const deps = { ctx: { dataDir, store: {}, notifier: {} } } as unknown as ApiDeps;
const DOMAINS: Record<string, (d: ApiDeps) => ApiRoutes> = {
  devices: deviceRoutes,
  models: modelRoutes,
  rollouts: rolloutRoutes,
  fleet: fleetRoutes,
  tokens: tokenRoutes,
  audit: auditRoutes,
  webhooks: webhookRoutes,
  artifacts: artifactRoutes,
};

describe('http/routes', () => {
  for (const [name, routes] of Object.entries(DOMAINS)) {
    it(`${name}: every route has a role in the route table and every row has a route`, () => {
      const { app, docs } = routes(deps);
      const served = app.routes.map((r) => `${r.method} ${r.path}`).sort();
      const documented = docs.map((d) => `${d.method.toUpperCase()} ${d.path}`).sort();
      expect(served.length).toBeGreaterThan(0);
      expect(served).toEqual(documented);
    });
  }
});
