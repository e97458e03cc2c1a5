// /audit/verify (design §7): checks the audit log's hash chain.

import { verifyAuditChain } from '../../trust/audit.js';
import { apiRoutes, type ApiDeps, type ApiRoutes } from '../api-routes.js';
import { AuditVerification } from '../schemas.js';

export function auditRoutes(deps: Pick<ApiDeps, 'ctx'>): ApiRoutes {
  const { store } = deps.ctx;
  const { app, docs, route } = apiRoutes();

  route({ method: 'get', path: '/audit/verify', summary: 'Check the audit log hash chain; names the first broken row and what broke', role: 'viewer', responses: { 200: AuditVerification } }, async (_c, io) => {
    return io.json(200, await verifyAuditChain(store));
  });

  return { app, docs };
}
