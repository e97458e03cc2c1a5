// /rollouts (design §7): start a rollout in gated waves, list and show them, pause / resume / abort /
// promote one. Without the gated runner a rollout is issued at once and can only be aborted.

import { z } from 'zod';
import { EdgefleetError } from '@edgefleet/protocol';
import { RolloutRequest } from '../../desired/index.js';
import { actor } from '../auth.js';
import { principal } from '../guard.js';
import { allAtOnceDetail } from '../../rollouts/index.js';
import { apiRoutes, type ApiDeps, type ApiRoutes } from '../api-routes.js';
import { RolloutList, RolloutOne } from '../schemas.js';

const RolloutReason = z.object({ reason: z.string().max(512).optional() });
const ACTIONS = ['pause', 'resume', 'abort', 'promote'] as const;
const SUMMARIES: Record<(typeof ACTIONS)[number], string> = {
  pause: 'pause a gated rollout',
  resume: 'resume a gated rollout',
  abort: 'Abort: its devices return to what they ran before',
  promote: 'Make a shadow version active',
};

export function rolloutRoutes(deps: Pick<ApiDeps, 'desiredStates' | 'rollouts'>): ApiRoutes {
  const { desiredStates, rollouts } = deps;
  const { app, docs, route } = apiRoutes();

  // design §7: gated waves (default 1, 10, 50, 100 % with a 10 min soak); `waves: [100], soak: 0` issues at once
  route(
    { method: 'post', path: '/rollouts', summary: 'Roll a model version out to a target set in gated waves (waves, soak, onFail, shadow, gates, deviceTimeout)', role: 'operator', body: RolloutRequest, responses: { 201: RolloutOne } },
    async (c, io) => {
      const p = principal(c);
      const body = await io.body();
      const rollout = rollouts ? await rollouts.start(body, actor(p)) : allAtOnceDetail(await desiredStates.start(body, actor(p)));
      return io.json(201, { rollout });
    },
  );
  route({ method: 'get', path: '/rollouts', summary: 'List rollouts with their waves', role: 'viewer', responses: { 200: RolloutList } }, async (_c, io) => {
    return io.json(200, { rollouts: rollouts ? await rollouts.list() : (await desiredStates.list()).map(allAtOnceDetail) });
  });
  route({ method: 'get', path: '/rollouts/:id', summary: 'One rollout: waves, devices per state, latest gate values against their limits', role: 'viewer', responses: { 200: RolloutOne } }, async (c, io) => {
    return io.json(200, { rollout: rollouts ? await rollouts.get(c.req.param('id')) : allAtOnceDetail(await desiredStates.get(c.req.param('id'))) });
  });
  for (const action of ACTIONS) {
    route({ method: 'post', path: `/rollouts/:id/${action}`, summary: SUMMARIES[action], role: 'operator', body: RolloutReason, bodyOptional: true, responses: { 200: RolloutOne } }, async (c, io) => {
      const p = principal(c);
      const reason = (await io.body())?.reason;
      if (rollouts) return io.json(200, { rollout: await rollouts.command(c.req.param('id'), action, actor(p), reason) });
      if (action === 'abort') return io.json(200, { rollout: allAtOnceDetail(await desiredStates.abort(c.req.param('id'), actor(p))) });
      const r = await desiredStates.get(c.req.param('id'));
      throw new EdgefleetError('CONFLICT', `rollout ${r.id} is ${r.status}; it has no waves to ${action}`);
    });
  }

  return { app, docs };
}
