// /fleet/status (design §7): devices online/offline, versions in use and per-version health.

import { z } from 'zod';
import { fleetStatus } from '../../telemetry/fleet-status.js';
import { apiRoutes, type ApiDeps, type ApiRoutes } from '../api-routes.js';
import { FleetStatus } from '../schemas.js';

const FleetQuery = z.object({ minutes: z.coerce.number().positive().max(525_600).default(60).describe('the window of per-version health') });

export function fleetRoutes(deps: Pick<ApiDeps, 'ctx'>): ApiRoutes {
  const { ctx } = deps;
  const { app, docs, route } = apiRoutes();

  route({ method: 'get', path: '/fleet/status', summary: 'Devices online/offline, versions in use, per-version health', role: 'viewer', query: FleetQuery, responses: { 200: FleetStatus } }, async (_c, io) => {
    return io.json(200, await fleetStatus(ctx, io.query().minutes));
  });

  return { app, docs };
}
