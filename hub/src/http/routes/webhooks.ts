// /webhooks (design §7): the delivery log (viewer; never a body or the secret, and receiver URLs whole
// only to admins), the receivers and event names, adding and removing receivers (admin; audited).

import { z } from 'zod';
import { EdgefleetError } from '@edgefleet/protocol';
import { WEBHOOK_EVENTS, redactUrl } from '../../notify/index.js';
import { actor, roleAtLeast } from '../auth.js';
import { principal } from '../guard.js';
import { readJson } from '../errors.js';
import { apiRoutes, type ApiDeps, type ApiRoutes } from '../api-routes.js';
import { Removed, WebhookDeliveries, WebhookList, WebhookOne } from '../schemas.js';

export const WebhookCreate = z.object({ url: z.string() });
const DeliveryQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  event: z.enum(WEBHOOK_EVENTS).optional(),
  delivery: z.string().max(64).optional(),
});

export function webhookRoutes(deps: Pick<ApiDeps, 'ctx'>): ApiRoutes {
  const { ctx } = deps;
  const { notifier } = ctx;
  const { app, docs, route } = apiRoutes();

  route(
    { method: 'get', path: '/webhooks/deliveries', summary: 'Webhook delivery log, newest first: one row per attempt', role: 'viewer', query: DeliveryQuery, responses: { 200: WebhookDeliveries } },
    async (c, io) => {
      const p = principal(c);
      // receiver URLs often carry a secret in their path or query (chat webhooks): only admins see them whole
      const admin = p.role !== null && roleAtLeast(p.role, 'admin');
      const q = io.query();
      const deliveries = await notifier.deliveries({ limit: q.limit, ...(q.event ? { event: q.event } : {}), ...(q.delivery ? { deliveryId: q.delivery } : {}) });
      return io.json(200, { deliveries: deliveries.map((d) => (admin ? d : { ...d, url: redactUrl(d.url) })), stats: notifier.stats() });
    },
  );
  route({ method: 'get', path: '/webhooks', summary: 'Webhook receivers (configured and API-added) and the event names', role: 'admin', responses: { 200: WebhookList } }, async (_c, io) => {
    return io.json(200, { webhooks: await notifier.targets(), events: [...WEBHOOK_EVENTS] });
  });
  route({ method: 'post', path: '/webhooks', summary: 'Add a webhook receiver URL (signed with the hub’s webhook secret)', role: 'admin', body: WebhookCreate, responses: { 201: WebhookOne } }, async (c, io) => {
    const p = principal(c);
    const r = WebhookCreate.safeParse(await readJson(c));
    if (!r.success) throw new EdgefleetError('BAD_INPUT', 'body must be { "url": "https://…" }');
    const webhook = await ctx.store.transaction(async () => {
      const t = await notifier.add(r.data.url, actor(p));
      await ctx.store.appendAudit(actor(p), 'webhook.add', { id: t.id, url: t.url }, ctx.now().toISOString());
      return t;
    });
    return io.json(201, { webhook });
  });
  route({ method: 'delete', path: '/webhooks/:id', summary: 'Remove a webhook receiver added through the API', role: 'admin', responses: { 200: Removed } }, async (c, io) => {
    const p = principal(c);
    const id = c.req.param('id');
    const target = (await notifier.targets()).find((t) => t.id === id);
    if (!target) throw new EdgefleetError('NOT_FOUND', `webhook ${id} not found`);
    if (target.source === 'config') throw new EdgefleetError('CONFLICT', `webhook ${id} comes from the hub's configuration (--webhook); remove it there`);
    await ctx.store.transaction(async () => {
      await notifier.remove(id);
      await ctx.store.appendAudit(actor(p), 'webhook.remove', { id, url: target.url }, ctx.now().toISOString());
    });
    return io.json(200, { removed: id });
  });

  return { app, docs };
}
