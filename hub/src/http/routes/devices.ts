// /devices (design §7): register, list (one filtered page with `?limit=`), show, retag and remove devices;
// a device's signed desired state; signed commands to it.

import { z } from 'zod';
import { DeviceId, EdgefleetError, ModelName } from '@edgefleet/protocol';
import { actor } from '../auth.js';
import { principal } from '../guard.js';
import { apiRoutes, type ApiDeps, type ApiRoutes } from '../api-routes.js';
import { DeviceListQuery, deviceFilter } from '../device-query.js';
import { CommandSent, DeviceCreated, DeviceDesired, DeviceDetail, DeviceList, DeviceOne, Removed } from '../schemas.js';

const Tags = z.record(z.string().max(64), z.string().max(128));
export const DeviceCreate = z.object({ id: DeviceId, tags: Tags.optional() });
export const DevicePatch = z.object({ tags: Tags });
const ById = { id: DeviceId };
export const CommandCreate = z
  .object({
    action: z.enum(['rollback', 'flush-telemetry', 'resync', 'batch']),
    model: ModelName.optional(),
    reason: z.string().max(512).optional(),
    /** `batch`: a file in the device's batch directory; the device refuses names that leave it (design §4). */
    path: z.string().min(1).max(255).optional(),
  })
  .refine((b) => b.action !== 'batch' || (b.model !== undefined && b.path !== undefined), { message: 'batch needs model and path', path: ['path'] });

export function deviceRoutes(deps: Pick<ApiDeps, 'ctx' | 'devices' | 'commands'>): ApiRoutes {
  const { ctx, devices } = deps;
  const { store } = ctx;
  const { app, docs, route } = apiRoutes();

  route({ method: 'post', path: '/devices', summary: 'Register a device; returns its token and agent config once', role: 'admin', body: DeviceCreate, responses: { 201: DeviceCreated } }, async (c, io) => {
    const body = await io.body();
    return io.json(201, await devices.add(body.id, body.tags ?? {}, actor(principal(c))));
  });
  route(
    { method: 'get', path: '/devices', summary: 'List devices; with `limit`, one filtered page and the total matching', role: 'viewer', query: DeviceListQuery, responses: { 200: DeviceList } },
    async (_c, io) => {
      const q = io.query();
      if (q.limit === undefined) return io.json(200, { devices: await devices.list() });
      const page = await store.queryDevices(deviceFilter({ ...q, limit: q.limit }), ctx.now());
      return io.json(200, { devices: await devices.some(page.ids), total: page.total });
    },
  );
  route({ method: 'get', path: '/devices/:id', params: ById, summary: 'One device with its recent events', role: 'viewer', responses: { 200: DeviceDetail } }, async (c, io) => {
    const device = await devices.get(c.req.param('id'));
    return io.json(200, { device, events: await store.eventsForDevice(device.id, 50) });
  });
  route({ method: 'patch', path: '/devices/:id', params: ById, summary: 'Replace a device’s tags', role: 'admin', body: DevicePatch, responses: { 200: DeviceOne } }, async (c, io) => {
    const body = await io.body();
    return io.json(200, { device: await devices.setTags(c.req.param('id'), body.tags, actor(principal(c))) });
  });
  route({ method: 'delete', path: '/devices/:id', params: ById, summary: 'Remove a device and revoke its credentials', role: 'admin', responses: { 200: Removed } }, async (c, io) => {
    await devices.remove(c.req.param('id'), actor(principal(c)));
    return io.json(200, { removed: c.req.param('id') });
  });

  route({ method: 'get', path: '/devices/:id/desired', params: ById, summary: 'The device’s current signed desired state', role: 'viewer', responses: { 200: DeviceDesired } }, async (c, io) => {
    const device = await devices.get(c.req.param('id'));
    const d = await store.getDesired(device.id);
    if (!d) throw new EdgefleetError('NOT_FOUND', `device ${device.id} has no desired state yet`);
    const envelope = JSON.parse(d.envelope) as DeviceDesired['envelope'];
    const desired = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as DeviceDesired['desired'];
    return io.json(200, { sequence: d.sequence, issuedAt: d.issuedAt, expiresAt: d.expiresAt, artifacts: d.artifacts, envelope, desired });
  });
  route(
    {
      method: 'post',
      path: '/devices/:id/commands',
      params: ById,
      summary: 'Send a signed command (rollback, flush-telemetry, resync, batch over a device file)',
      role: 'operator',
      body: CommandCreate,
      responses: { 202: { description: 'Accepted: signed and published to the device', schema: CommandSent }, 503: { description: 'UNAVAILABLE: this hub sends no commands' } },
    },
    async (c, io) => {
      const p = principal(c);
      if (!deps.commands) throw new EdgefleetError('UNAVAILABLE', 'commands are not available on this hub');
      const body = await io.body();
      const command = await deps.commands.send(c.req.param('id'), body.action, { ...(body.model ? { model: body.model } : {}), ...(body.reason ? { reason: body.reason } : {}), ...(body.path ? { path: body.path } : {}), actor: actor(p) });
      return io.json(202, { command });
    },
  );

  return { app, docs };
}
