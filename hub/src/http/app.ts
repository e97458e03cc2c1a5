// The hub's HTTP API under /api/v1 (design §7): hono, zod-validated bodies, bearer roles checked by one
// guard before any body is read (guard.ts; each route's role comes from its RouteDoc), one onError
// mapping EdgefleetError codes to HTTP status and `{ error: { code, message } }`; plus /metrics.

import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { Hono, type Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { z } from 'zod';
import { DeviceId, EdgefleetError, HTTP_STATUS, isErrorCode, ModelName } from '@edgefleet/protocol';
import type { HubContext } from '../context.js';
import type { DeviceRegistry } from '../devices/registry.js';
import type { Deployments } from '../desired/desired.js';
import { RolloutRequest } from '../desired/desired.js';
import type { ModelRegistry } from '../models/registry.js';
import type { ArtifactStore } from '../artifacts/artifacts.js';
import type { CommandSender } from '../devices/commands.js';
import type { RolloutRunner } from '../rollouts/runner.js';
import { fleetStatus } from '../telemetry/fleet-status.js';
import { ROLES, createApiToken, type Principal } from './auth.js';
import { boundRefusedBody, createGuard, type GuardEnv } from './guard.js';
import { MODEL_PUSH_DOC, mountModelPush } from './models-api.js';
import { buildOpenApi, type RouteDoc } from './openapi.js';
import { HEALTH_ROUTE_DOCS, mountHealthApi } from './routes/health.js';
import { parseDeviceFilter, queryDevices } from './device-query.js';
import { mountDashboard } from '../dashboard/index.js';
import { verifyAuditChain } from '../trust/audit.js';
import { WEBHOOK_ROUTE_DOCS } from '../notify/webhooks.js';

export interface ApiDeps {
  ctx: HubContext;
  devices: DeviceRegistry;
  deployments: Deployments;
  models: ModelRegistry;
  artifacts: ArtifactStore;
  commands?: CommandSender;
  /** The gated rollout engine (design §7); without it rollouts are issued all at once. */
  rollouts?: RolloutRunner;
  maxModelBytes?: number;
  version?: string;
}

const Tags = z.record(z.string().max(64), z.string().max(128));
export const DeviceCreate = z.object({ id: DeviceId, tags: Tags.optional() });
export const DevicePatch = z.object({ tags: Tags });
export const CommandCreate = z.object({
  action: z.enum(['rollback', 'flush-telemetry', 'resync']),
  model: ModelName.optional(),
  reason: z.string().max(512).optional(),
});
export const TokenCreate = z.object({ role: z.enum(['viewer', 'operator', 'admin']), name: z.string().max(128).optional() });

type Env = GuardEnv;

function describe(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join('.') : 'body'}: ${i.message}`)
    .join('; ');
}

async function jsonBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch (err) {
    throw new EdgefleetError('BAD_JSON', 'request body is not valid JSON', { cause: err });
  }
  const r = schema.safeParse(raw);
  if (!r.success) throw new EdgefleetError('BAD_INPUT', describe(r.error));
  return r.data;
}

function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | 'unsatisfiable' {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null; // multi-range or malformed: serve the whole file (RFC 9110 §14.2)
  let start: number;
  let end: number;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return 'unsatisfiable';
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}

export function createApi(deps: ApiDeps): Hono<Env> {
  const { ctx, devices, deployments, models, artifacts } = deps;
  const { store, metrics } = ctx;
  const app = new Hono<Env>();
  const docs: RouteDoc[] = [];
  // design §7: one table says who may call each route; the guard enforces it before any body is read
  const guard = createGuard({ store, devices });
  const doc = (d: RouteDoc) => {
    docs.push(d);
    guard.add({ method: d.method, path: d.path, access: d.role, ...(d.multipart ? { body: 'upload' as const } : {}) });
  };

  app.onError((err, c) => {
    let e: EdgefleetError;
    if (err instanceof EdgefleetError) e = err;
    else if (err instanceof HTTPException && err.status === 413) e = new EdgefleetError('TOO_LARGE', 'request body too large');
    else if (err instanceof z.ZodError) e = new EdgefleetError('BAD_INPUT', describe(err));
    else {
      ctx.log(`http ${c.req.method} ${c.req.path}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      e = new EdgefleetError('INTERNAL', 'internal error');
    }
    const status = isErrorCode(e.code) ? HTTP_STATUS[e.code] : 500;
    if (e.code === 'UNAUTHORIZED') c.header('WWW-Authenticate', 'Bearer');
    if (c.req.raw.body) boundRefusedBody(c);
    if (status < 500) metrics.inc('edgefleet_http_refused_total', { code: e.code });
    return c.json({ error: { code: e.code, message: e.message } }, status as 400);
  });
  app.notFound((c) => c.json({ error: { code: 'NOT_FOUND', message: `no route ${c.req.method} ${c.req.path}` } }, 404));

  app.use('*', async (c, next) => {
    await next();
    metrics.inc('edgefleet_http_requests_total', { status: `${Math.floor(c.res.status / 100)}xx` });
  });
  app.use('*', guard.middleware);

  const actor = (p: Principal) => `${p.kind}:${p.id}`;

  // ---- metrics and docs ----
  app.get('/metrics', (c) => c.text(metrics.render(), 200, { 'content-type': 'text/plain; version=0.0.4' }));
  app.get('/api/v1/openapi.json', (c) => c.json(buildOpenApi(docs, deps.version ?? '0.1.0') as object));
  mountDashboard(app); // design §7: dashboard at /
  mountHealthApi(app, ctx); // the dashboard's read API: /api/v1/health, /health/overview, /whoami
  HEALTH_ROUTE_DOCS.forEach(doc);
  guard.add({ method: 'get', path: '/openapi.json', access: 'none' });

  const api = new Hono<Env>();

  // ---- devices ----
  doc({ method: 'post', path: '/devices', summary: 'Register a device; returns its token and agent config once', role: 'admin', body: DeviceCreate });
  api.post('/devices', async (c) => {
    const p = c.get('principal');
    const body = await jsonBody(c, DeviceCreate);
    const res = devices.add(body.id, body.tags ?? {}, actor(p));
    return c.json(res, 201);
  });
  doc({ method: 'get', path: '/devices', summary: 'List devices', role: 'viewer' });
  api.get('/devices', (c) => {
    // `?limit=` asks for one filtered page `{ devices, total }` (tag, model, version, state, online, q)
    if (c.req.query('limit') !== undefined) {
      const page = queryDevices(store.db, parseDeviceFilter(c.req.query(), c.req.queries('tag') ?? []), ctx.now());
      return c.json({ devices: page.ids.map((id) => devices.get(id)), total: page.total });
    }
    return c.json({ devices: devices.list() });
  });
  doc({ method: 'get', path: '/devices/:id', summary: 'One device with its recent events', role: 'viewer' });
  api.get('/devices/:id', (c) => {
    const device = devices.get(c.req.param('id'));
    return c.json({ device, events: store.eventsForDevice(device.id, 50) });
  });
  doc({ method: 'patch', path: '/devices/:id', summary: 'Replace a device’s tags', role: 'admin', body: DevicePatch });
  api.patch('/devices/:id', async (c) => {
    const p = c.get('principal');
    const body = await jsonBody(c, DevicePatch);
    return c.json({ device: devices.setTags(c.req.param('id'), body.tags, actor(p)) });
  });
  doc({ method: 'delete', path: '/devices/:id', summary: 'Remove a device and revoke its credentials', role: 'admin' });
  api.delete('/devices/:id', (c) => {
    const p = c.get('principal');
    devices.remove(c.req.param('id'), actor(p));
    return c.json({ removed: c.req.param('id') });
  });

  doc({ method: 'get', path: '/devices/:id/desired', summary: 'The device’s current signed desired state', role: 'viewer' });
  api.get('/devices/:id/desired', (c) => {
    const device = devices.get(c.req.param('id'));
    const d = store.getDesired(device.id);
    if (!d) throw new EdgefleetError('NOT_FOUND', `device ${device.id} has no desired state yet`);
    const envelope = JSON.parse(d.envelope) as { payload: string };
    return c.json({ sequence: d.sequence, issuedAt: d.issuedAt, expiresAt: d.expiresAt, artifacts: d.artifacts, envelope, desired: JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as unknown });
  });
  doc({ method: 'post', path: '/devices/:id/commands', summary: 'Send a signed command (rollback, flush-telemetry, resync)', role: 'operator', body: CommandCreate });
  api.post('/devices/:id/commands', async (c) => {
    const p = c.get('principal');
    if (!deps.commands) throw new EdgefleetError('UNAVAILABLE', 'commands are not available on this hub');
    const body = await jsonBody(c, CommandCreate);
    const command = await deps.commands.send(c.req.param('id'), body.action, { ...(body.model ? { model: body.model } : {}), ...(body.reason ? { reason: body.reason } : {}), actor: actor(p) });
    return c.json({ command }, 202);
  });

  // ---- models ----
  doc(MODEL_PUSH_DOC);
  mountModelPush(api, { models, dataDir: ctx.dataDir, ...(deps.maxModelBytes !== undefined ? { maxModelBytes: deps.maxModelBytes } : {}) });
  doc({ method: 'get', path: '/models', summary: 'List models and versions', role: 'viewer' });
  api.get('/models', (c) => {
    return c.json({ models: models.list() });
  });
  doc({ method: 'get', path: '/models/:name', summary: 'One model’s versions with manifests', role: 'viewer' });
  api.get('/models/:name', (c) => {
    const name = c.req.param('name');
    if (!ModelName.safeParse(name).success) throw new EdgefleetError('NOT_FOUND', `model ${name} not found`);
    return c.json(models.get(name));
  });

  // ---- rollouts ----
  // design §7: gated waves (default 1, 10, 50, 100 % with a 10 min soak); `waves: [100], soak: 0` issues at once
  doc({ method: 'post', path: '/rollouts', summary: 'Roll a model version out to a target set in gated waves (waves, soak, onFail, shadow, gates, deviceTimeout)', role: 'operator', body: RolloutRequest });
  api.post('/rollouts', async (c) => {
    const p = c.get('principal');
    const body = await jsonBody(c, RolloutRequest);
    const rollout = deps.rollouts ? await deps.rollouts.start(body, actor(p)) : await deployments.start(body, actor(p));
    return c.json({ rollout }, 201);
  });
  doc({ method: 'get', path: '/rollouts', summary: 'List rollouts with their waves', role: 'viewer' });
  api.get('/rollouts', (c) => {
    return c.json({ rollouts: deps.rollouts ? deps.rollouts.list() : deployments.list() });
  });
  doc({ method: 'get', path: '/rollouts/:id', summary: 'One rollout: waves, devices per state, latest gate values against their limits', role: 'viewer' });
  api.get('/rollouts/:id', (c) => {
    return c.json({ rollout: deps.rollouts ? deps.rollouts.get(c.req.param('id')) : deployments.get(c.req.param('id')) });
  });
  const RolloutReason = z.object({ reason: z.string().max(512).optional() });
  for (const action of ['pause', 'resume', 'abort', 'promote'] as const) {
    const summary =
      action === 'abort' ? 'Abort: its devices return to what they ran before' : action === 'promote' ? 'Make a shadow version active' : `${action} a gated rollout`;
    doc({ method: 'post', path: `/rollouts/:id/${action}`, summary, role: 'operator' });
    api.post(`/rollouts/:id/${action}`, async (c) => {
      const p = c.get('principal');
      const text = await c.req.text();
      let reason: string | undefined;
      if (text.trim()) {
        let raw: unknown;
        try {
          raw = JSON.parse(text);
        } catch (err) {
          throw new EdgefleetError('BAD_JSON', 'request body is not valid JSON', { cause: err });
        }
        const r = RolloutReason.safeParse(raw);
        if (!r.success) throw new EdgefleetError('BAD_INPUT', describe(r.error));
        reason = r.data.reason;
      }
      if (deps.rollouts) return c.json({ rollout: await deps.rollouts.command(c.req.param('id'), action, actor(p), reason) });
      if (action === 'abort') return c.json({ rollout: await deployments.abort(c.req.param('id'), actor(p)) });
      const r = deployments.get(c.req.param('id'));
      throw new EdgefleetError('CONFLICT', `rollout ${r.id} is ${r.status}; it has no waves to ${action}`);
    });
  }

  // ---- fleet, tokens, audit ----
  doc({ method: 'get', path: '/fleet/status', summary: 'Devices online/offline, versions in use, per-version health', role: 'viewer' });
  api.get('/fleet/status', (c) => {
    const minutes = Number(c.req.query('minutes') ?? '60');
    if (!Number.isFinite(minutes) || minutes <= 0) throw new EdgefleetError('BAD_INPUT', 'minutes must be a positive number');
    return c.json(fleetStatus(ctx, minutes));
  });
  doc({ method: 'post', path: '/tokens', summary: 'Create an API token (shown once)', role: 'admin', body: TokenCreate });
  api.post('/tokens', async (c) => {
    const p = c.get('principal');
    const body = await jsonBody(c, TokenCreate);
    const res = store.transaction(() => {
      const t = createApiToken(store, body.role, body.name ?? null, ctx.now().toISOString());
      store.appendAudit(actor(p), 'token.create', { id: t.id, role: t.role });
      return t;
    });
    return c.json(res, 201);
  });
  doc({ method: 'get', path: '/audit/verify', summary: 'Check the audit log hash chain; names the first broken row and what broke', role: 'viewer' });
  api.get('/audit/verify', (c) => {
    return c.json(verifyAuditChain(store.db)); // names the first broken row and what broke
  });
  WEBHOOK_ROUTE_DOCS.forEach(doc); // mounted by hub.ts (webhooks.ts mountWebhookApi)

  // ---- artifacts (device Basic auth or any API token; design §8 range requests) ----
  doc({ method: 'get', path: '/artifacts/:sha256', summary: 'Artifact bytes, with Range support', role: 'device' });
  api.get('/artifacts/:sha256', (c) => {
    const sha = c.req.param('sha256');
    const p = c.get('principal'); // the guard checked the device's credentials or the token
    // the same rule as over MQTT (design §4): only artifacts in this device's current desired state
    if (p.kind === 'device' && !deployments.desiredArtifacts(p.id).has(sha)) {
      throw new EdgefleetError('FORBIDDEN', `artifact ${sha} is not in device ${p.id}'s desired state`);
    }
    if (!/^[0-9a-f]{64}$/.test(sha) || !artifacts.has(sha)) throw new EdgefleetError('NOT_FOUND', `artifact ${sha} not found`);
    const size = artifacts.size(sha);
    const range = parseRange(c.req.header('range'), size);
    const headers: Record<string, string> = {
      'accept-ranges': 'bytes',
      'content-type': 'application/octet-stream',
      etag: `"${sha}"`,
      'cache-control': 'public, max-age=31536000, immutable',
    };
    if (range === 'unsatisfiable') {
      return c.body(null, 416, { ...headers, 'content-range': `bytes */${size}` });
    }
    const start = range?.start ?? 0;
    const end = range?.end ?? size - 1;
    const stream = Readable.toWeb(createReadStream(artifacts.path(sha), { start, end })) as ReadableStream;
    headers['content-length'] = String(end - start + 1);
    if (range) headers['content-range'] = `bytes ${start}-${end}/${size}`;
    return c.body(stream, range ? 206 : 200, headers);
  });

  app.route('/api/v1', api);
  return app;
}

export { ROLES };
