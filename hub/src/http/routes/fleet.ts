// /fleet/status (design §7): devices online/offline, versions in use and per-version health.

import { EdgefleetError } from '@edgefleet/protocol';
import { fleetStatus } from '../../telemetry/fleet-status.js';
import { apiRoutes, type ApiDeps, type ApiRoutes } from '../api-routes.js';

export function fleetRoutes(deps: Pick<ApiDeps, 'ctx'>): ApiRoutes {
  const { ctx } = deps;
  const { app, docs, doc } = apiRoutes();

  doc({ method: 'get', path: '/fleet/status', summary: 'Devices online/offline, versions in use, per-version health', role: 'viewer' });
  app.get('/fleet/status', async (c) => {
    const minutes = Number(c.req.query('minutes') ?? '60');
    if (!Number.isFinite(minutes) || minutes <= 0) throw new EdgefleetError('BAD_INPUT', 'minutes must be a positive number');
    return c.json(await fleetStatus(ctx, minutes));
  });

  return { app, docs };
}
