// /audit/verify (design §7): checks the audit log's hash chain.

import { verifyAuditChain } from '../../trust/audit.js';
import { apiRoutes, type ApiDeps, type ApiRoutes } from '../api-routes.js';

export function auditRoutes(deps: Pick<ApiDeps, 'ctx'>): ApiRoutes {
  const { store } = deps.ctx;
  const { app, docs, doc } = apiRoutes();

  doc({ method: 'get', path: '/audit/verify', summary: 'Check the audit log hash chain; names the first broken row and what broke', role: 'viewer' });
  app.get('/audit/verify', async (c) => {
    return c.json(await verifyAuditChain(store)); // names the first broken row and what broke
  });

  return { app, docs };
}
