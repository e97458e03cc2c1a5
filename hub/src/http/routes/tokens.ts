// /tokens (design §7): an admin creates an API token of a role; it is shown once and stored hashed.

import { z } from 'zod';
import { actor, createApiToken } from '../auth.js';
import { principal } from '../guard.js';
import { apiRoutes, type ApiDeps, type ApiRoutes } from '../api-routes.js';
import { TokenCreated } from '../schemas.js';

export const TokenCreate = z.object({ role: z.enum(['viewer', 'operator', 'admin']), name: z.string().max(128).optional() });

export function tokenRoutes(deps: Pick<ApiDeps, 'ctx'>): ApiRoutes {
  const { ctx } = deps;
  const { store } = ctx;
  const { app, docs, route } = apiRoutes();

  route({ method: 'post', path: '/tokens', summary: 'Create an API token (shown once)', role: 'admin', body: TokenCreate, responses: { 201: TokenCreated } }, async (c, io) => {
    const p = principal(c);
    const body = await io.body();
    const res = await store.transaction(async () => {
      const t = await createApiToken(store, body.role, body.name ?? null, ctx.now().toISOString());
      await store.appendAudit(actor(p), 'token.create', { id: t.id, role: t.role });
      return t;
    });
    return io.json(201, res);
  });

  return { app, docs };
}
