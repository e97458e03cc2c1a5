// /devices (design §7): register, list (one filtered page with `?limit=`), show, retag and remove devices;
// a device's signed desired state; signed commands to it.

import { z } from 'zod';
import { DeviceId, EdgefleetError, ModelName } from '@edgefleet/protocol';
import { actor } from '../auth.js';
import { principal } from '../guard.js';
import { jsonBody } from '../errors.js';
import { apiRoutes, type ApiDeps, type ApiRoutes } from '../api-routes.js';
import { parseDeviceFilter } from '../device-query.js';

const Tags = z.record(z.string().max(64), z.string().max(128));
export const DeviceCreate = z.object({ id: DeviceId, tags: Tags.optional() });
export const DevicePatch = z.object({ tags: Tags });
export const CommandCreate = z.object({
  action: z.enum(['rollback', 'flush-telemetry', 'resync']),
  model: ModelName.optional(),
  reason: z.string().max(512).optional(),
});

export function deviceRoutes(deps: Pick<ApiDeps, 'ctx' | 'devices' | 'commands'>): ApiRoutes {
  const { ctx, devices } = deps;
  const { store } = ctx;
  const { app, docs, doc } = apiRoutes();

  doc({ method: 'post', path: '/devices', summary: 'Register a device; returns its token and agent config once', role: 'admin', body: DeviceCreate });
  app.post('/devices', async (c) => {
    const body = await jsonBody(c, DeviceCreate);
    const res = await devices.add(body.id, body.tags ?? {}, actor(principal(c)));
    return c.json(res, 201);
  });
  doc({ method: 'get', path: '/devices', summary: 'List devices', role: 'viewer' });
  app.get('/devices', async (c) => {
    // `?limit=` asks for one filtered page `{ devices, total }` (tag, model, version, state, online, q)
    if (c.req.query('limit') !== undefined) {
      const page = await store.queryDevices(parseDeviceFilter(c.req.query(), c.req.queries('tag') ?? []), ctx.now());
      return c.json({ devices: await devices.some(page.ids), total: page.total });
    }
    return c.json({ devices: await devices.list() });
  });
  doc({ method: 'get', path: '/devices/:id', summary: 'One device with its recent events', role: 'viewer' });
  app.get('/devices/:id', async (c) => {
    const device = await devices.get(c.req.param('id'));
    return c.json({ device, events: await store.eventsForDevice(device.id, 50) });
  });
  doc({ method: 'patch', path: '/devices/:id', summary: 'Replace a device’s tags', role: 'admin', body: DevicePatch });
  app.patch('/devices/:id', async (c) => {
    const body = await jsonBody(c, DevicePatch);
    return c.json({ device: await devices.setTags(c.req.param('id'), body.tags, actor(principal(c))) });
  });
  doc({ method: 'delete', path: '/devices/:id', summary: 'Remove a device and revoke its credentials', role: 'admin' });
  app.delete('/devices/:id', async (c) => {
    await devices.remove(c.req.param('id'), actor(principal(c)));
    return c.json({ removed: c.req.param('id') });
  });

  doc({ method: 'get', path: '/devices/:id/desired', summary: 'The device’s current signed desired state', role: 'viewer' });
  app.get('/devices/:id/desired', async (c) => {
    const device = await devices.get(c.req.param('id'));
    const d = await store.getDesired(device.id);
    if (!d) throw new EdgefleetError('NOT_FOUND', `device ${device.id} has no desired state yet`);
    const envelope = JSON.parse(d.envelope) as { payload: string };
    return c.json({ sequence: d.sequence, issuedAt: d.issuedAt, expiresAt: d.expiresAt, artifacts: d.artifacts, envelope, desired: JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as unknown });
  });
  doc({ method: 'post', path: '/devices/:id/commands', summary: 'Send a signed command (rollback, flush-telemetry, resync)', role: 'operator', body: CommandCreate });
  app.post('/devices/:id/commands', async (c) => {
    const p = principal(c);
    if (!deps.commands) throw new EdgefleetError('UNAVAILABLE', 'commands are not available on this hub');
    const body = await jsonBody(c, CommandCreate);
    const command = await deps.commands.send(c.req.param('id'), body.action, { ...(body.model ? { model: body.model } : {}), ...(body.reason ? { reason: body.reason } : {}), actor: actor(p) });
    return c.json({ command }, 202);
  });

  return { app, docs };
}
