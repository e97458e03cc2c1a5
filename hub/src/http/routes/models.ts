// /models (design §7): push a version (models-api.ts streams the upload), list models, one model's versions.

import { EdgefleetError, ModelName } from '@edgefleet/protocol';
import { apiRoutes, type ApiDeps, type ApiRoutes } from '../api-routes.js';
import { MODEL_PUSH_DOC, modelPush } from '../models-api.js';
import { Model, ModelList } from '../schemas.js';

export function modelRoutes(deps: Pick<ApiDeps, 'ctx' | 'models' | 'maxModelBytes'>): ApiRoutes {
  const { models } = deps;
  const { app, docs, route } = apiRoutes();

  route(MODEL_PUSH_DOC, modelPush({ models, dataDir: deps.ctx.dataDir, ...(deps.maxModelBytes !== undefined ? { maxModelBytes: deps.maxModelBytes } : {}) }));
  route({ method: 'get', path: '/models', summary: 'List models and versions', role: 'viewer', responses: { 200: ModelList } }, async (_c, io) => {
    return io.json(200, { models: await models.list() });
  });
  route({ method: 'get', path: '/models/:name', params: { name: ModelName }, summary: 'One model’s versions with manifests', role: 'viewer', responses: { 200: Model } }, async (c, io) => {
    const name = c.req.param('name');
    if (!ModelName.safeParse(name).success) throw new EdgefleetError('NOT_FOUND', `model ${name} not found`);
    return io.json(200, await models.get(name));
  });

  return { app, docs };
}
