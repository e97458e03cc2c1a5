// /models (design §7): push a version (models-api.ts streams the upload), list models, one model's versions.

import { EdgefleetError, ModelName } from '@edgefleet/protocol';
import { apiRoutes, type ApiDeps, type ApiRoutes } from '../api-routes.js';
import { MODEL_PUSH_DOC, mountModelPush } from '../models-api.js';

export function modelRoutes(deps: Pick<ApiDeps, 'ctx' | 'models' | 'maxModelBytes'>): ApiRoutes {
  const { models } = deps;
  const { app, docs, doc } = apiRoutes();

  doc(MODEL_PUSH_DOC);
  mountModelPush(app, { models, dataDir: deps.ctx.dataDir, ...(deps.maxModelBytes !== undefined ? { maxModelBytes: deps.maxModelBytes } : {}) });
  doc({ method: 'get', path: '/models', summary: 'List models and versions', role: 'viewer' });
  app.get('/models', async (c) => {
    return c.json({ models: await models.list() });
  });
  doc({ method: 'get', path: '/models/:name', summary: 'One model’s versions with manifests', role: 'viewer' });
  app.get('/models/:name', async (c) => {
    const name = c.req.param('name');
    if (!ModelName.safeParse(name).success) throw new EdgefleetError('NOT_FOUND', `model ${name} not found`);
    return c.json(await models.get(name));
  });

  return { app, docs };
}
