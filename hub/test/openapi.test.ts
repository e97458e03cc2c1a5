// The OpenAPI document against what the hub really serves: every route the app registers under /api/v1 is
// documented and every documented operation is served; the document holds together as OpenAPI 3.1 (unique
// operationIds, $refs that resolve, path parameters declared); and real answers of a running hub — devices,
// a model, a gated rollout, health, the overview, refusals — conform to the schema documented for their status.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '@edgefleet/hub';
import type { Reference } from '@edgefleet/protocol';
import { createApi } from '../src/http/index.js';
import { apiClient, endClient, startTestHub, tempDir, tinyModel, waitFor } from './helpers.js';
import { buildWindow, publishReported, publishTelemetry, registerDevices, reportedState, tinyValidation, type FleetDevice } from './dashboard-support.js';
import { resolvePointer, validate } from './support/json-schema.js';

type Json = Record<string, any>;
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const MINUTE = 60_000;

/** `/devices/{id}` → a regexp matching concrete paths; literal segments are more specific than parameters. */
const template = (p: string) => new RegExp(`^${p.replace(/\{[^}]+\}/g, '[^/]+')}$`);

describe('OpenAPI document', () => {
  let hub: Hub;
  let dir: ReturnType<typeof tempDir>;
  let admin: ReturnType<typeof apiClient>;
  let doc: Json;
  let fleet: FleetDevice[] = [];
  const checked: string[] = [];

  /** The operation documented for a concrete request path (the literal match wins over a parameter one). */
  const operation = (method: string, path: string): { template: string; op: Json } => {
    const candidates = Object.keys(doc.paths).filter((p) => template(p).test(path) && doc.paths[p][method]);
    candidates.sort((a, b) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0));
    const t = candidates[0];
    if (!t) throw new Error(`${method} ${path} is not documented`);
    return { template: t, op: doc.paths[t][method] };
  };

  /** A real request; its status must be one the operation documents, and a JSON body must match that status's schema. */
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}, token = hub.adminToken) => {
    const init: RequestInit = { method: method.toUpperCase(), headers: { authorization: `Bearer ${token}`, ...headers } };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] = 'application/json';
    }
    const res = await fetch(`${hub.urls.http}/api/v1${path}`, init);
    const { template: t, op } = operation(method, path.split('?')[0]!);
    const documented = op.responses[String(res.status)];
    expect(documented, `${method} ${path} answered ${res.status}, not documented for ${t}`).toBeDefined();
    const type = res.headers.get('content-type') ?? '';
    const buf = Buffer.from(await res.arrayBuffer());
    let parsed: unknown = buf;
    if (type.startsWith('application/json')) {
      parsed = JSON.parse(buf.toString('utf8'));
      const schema = documented.content?.['application/json']?.schema;
      expect(schema, `${method} ${t} ${res.status}: no JSON schema documented`).toBeDefined();
      const issues = validate(schema, parsed, doc);
      expect(issues, `${method} ${path} ${res.status}`).toEqual([]);
    } else if (buf.length > 0) {
      expect(Object.keys(documented.content ?? {}), `${method} ${t} ${res.status}`).toContain(type);
    }
    checked.push(`${method} ${t} ${res.status}`);
    return { status: res.status, body: parsed as any, headers: res.headers };
  };

  beforeAll(async () => {
    dir = tempDir('edgefleet-openapi-');
    hub = await startTestHub(dir.path, { ws: null });
    admin = apiClient(hub.urls.http, hub.adminToken);
    doc = (await (await fetch(`${hub.urls.http}/api/v1/openapi.json`)).json()) as Json;

    const versions: Record<string, { release: number; sha256: string }> = {};
    let reference: Reference | undefined;
    for (const [version, seed] of [['1.0.0', 0], ['1.1.0', 1]] as const) {
      const res = await admin.pushModel(tinyModel(seed), { name: 'tiny', version, validation: tinyValidation(400), labels: JSON.stringify(['normal', 'fault']), dataset: 'rig', run: `run-${version}` });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      versions[version] = { release: res.body.release, sha256: res.body.sha256 };
      reference = res.body.manifest.reference;
    }
    fleet = await registerDevices(hub, [
      { id: 'pump-01', tags: { site: 'a' }, online: true },
      { id: 'pump-02', tags: { site: 'b' }, online: true },
      { id: 'spare-01', tags: { site: 'b' }, online: false },
    ]);
    const now = Date.now();
    for (const [i, d] of fleet.entries()) {
      if (!d.client) continue;
      await publishReported(d, reportedState(d.id, { tiny: { version: '1.0.0', ...versions['1.0.0']! } }));
      const windows = [1, 2, 3].map((m) =>
        buildWindow(reference!, { model: 'tiny', version: '1.0.0', start: Math.floor((now - m * MINUTE) / MINUTE) * MINUTE, inferences: 120, latencyMs: 5, errors: m === 2 ? 1 : 0, labelled: 30, shift: i === 1 ? { [reference!.features[0]!.name]: 1.5 } : {}, seed: i * 10 + m }),
      );
      await publishTelemetry(d, windows);
    }
    await waitFor(async () => {
      await hub.flush();
      const s = (await admin.get('/fleet/status')).body;
      return s.devices.online === 2 && s.health.length === 1 && s.health[0].inferences > 0;
    }, 'fleet reported');
  });

  afterAll(async () => {
    await Promise.all(fleet.map((d) => endClient(d.client)));
    await hub?.close();
    dir?.remove();
  });

  it('documents every route the app serves under /api/v1, and serves every documented one', () => {
    const { ctx, devices, desiredStates, models, commands, rollouts } = hub.services;
    // the same assembly the hub serves (artifacts are only read inside handlers)
    const app = createApi({ ctx, devices, desiredStates, models, commands, rollouts, artifacts: undefined as never });
    const served = [
      ...new Set(
        app.routes
          .filter((r) => r.method !== 'ALL' && (r.path === '/api/v1' || r.path.startsWith('/api/v1/')))
          .map((r) => `${r.method.toLowerCase()} ${r.path.slice('/api/v1'.length).replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`),
      ),
    ].sort();
    const documented = Object.entries(doc.paths as Json)
      .flatMap(([p, ops]) => Object.keys(ops).filter((m) => METHODS.includes(m)).map((m) => `${m} ${p}`))
      .sort();
    expect(served).toEqual(documented);
    for (const required of ['get /whoami', 'get /health', 'get /health/overview', 'get /openapi.json', 'get /devices', 'post /rollouts', 'get /artifacts/{sha256}']) expect(documented).toContain(required);
  });

  it('is structurally valid OpenAPI 3.1: unique operationIds, declared path parameters, resolving $refs, a schema for every 2xx', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(typeof doc.info.title).toBe('string');
    expect(typeof doc.info.version).toBe('string');
    const schemes = Object.keys(doc.components.securitySchemes);
    const ids: string[] = [];
    for (const [p, ops] of Object.entries(doc.paths as Json)) {
      expect(p.startsWith('/'), p).toBe(true);
      const names = [...p.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      for (const [method, op] of Object.entries(ops as Json)) {
        expect(METHODS, `${p}: ${method}`).toContain(method);
        const where = `${method} ${p}`;
        ids.push(op.operationId);
        expect(op.operationId, where).toMatch(/^[A-Za-z][A-Za-z0-9]*$/);
        expect(op.tags, where).toHaveLength(1);
        const params = (op.parameters ?? []) as Json[];
        expect(params.filter((x) => x.in === 'path').map((x) => x.name).sort(), where).toEqual([...names].sort());
        for (const x of params) {
          expect(['path', 'query', 'header', 'cookie'], where).toContain(x.in);
          expect(x.schema, `${where} ${x.name}`).toBeDefined();
          if (x.in === 'path') expect(x.required, `${where} ${x.name}`).toBe(true);
        }
        expect(new Set(params.map((x) => `${x.in} ${x.name}`)).size, where).toBe(params.length);
        for (const s of op.security ?? []) for (const name of Object.keys(s)) expect(schemes, where).toContain(name);
        const statuses = Object.keys(op.responses);
        for (const s of statuses) {
          expect(s, where).toMatch(/^([1-5]\d\d|default)$/);
          expect(typeof op.responses[s].description, `${where} ${s}`).toBe('string');
        }
        const ok = statuses.filter((s) => /^2\d\d$/.test(s));
        expect(ok.length, `${where}: a 2xx`).toBeGreaterThan(0);
        for (const s of ok) {
          const content = Object.values(op.responses[s].content ?? {}) as Json[];
          expect(content.length, `${where} ${s}: content`).toBeGreaterThan(0);
          for (const c of content) expect(c.schema, `${where} ${s}: schema`).toBeDefined();
        }
        if (op.security?.length !== 0) expect(statuses, where).toContain('401');
      }
    }
    expect(new Set(ids).size).toBe(ids.length);
    // every $ref anywhere in the document resolves within it
    const refs: string[] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === 'object') {
        for (const [k, v] of Object.entries(node)) {
          if (k === '$ref' && typeof v === 'string') refs.push(v);
          else walk(v);
        }
      }
    };
    walk(doc);
    expect(refs.length).toBeGreaterThan(30);
    for (const r of new Set(refs)) expect(() => resolvePointer(doc, r), r).not.toThrow();
    for (const [name, s] of Object.entries(doc.components.schemas as Json)) {
      expect(s.$schema, name).toBeUndefined();
      expect(s.$id, name).toBeUndefined();
    }
  });

  it('documents the query parameters the routes validate', () => {
    const params = (method: string, path: string) => Object.fromEntries(((doc.paths[path][method].parameters ?? []) as Json[]).filter((x) => x.in === 'query').map((x) => [x.name, x]));
    const devices = params('get', '/devices');
    expect(Object.keys(devices)).toEqual(expect.arrayContaining(['tag', 'model', 'version', 'state', 'online', 'silentMinutes', 'q', 'limit', 'offset']));
    expect(devices.tag.schema.type).toBe('array');
    expect(devices.limit.required).toBe(false);
    const health = params('get', '/health');
    expect(health.model.required).toBe(true);
    expect(health.version.required).toBe(true);
    expect(Object.keys(health)).toEqual(expect.arrayContaining(['tag', 'device', 'role', 'from', 'to', 'bucketMs']));
    expect(Object.keys(params('get', '/health/overview'))).toEqual(['silentMinutes', 'minutes', 'events']);
    expect(Object.keys(params('get', '/webhooks/deliveries'))).toEqual(['limit', 'event', 'delivery']);
    expect(Object.keys(params('get', '/fleet/status'))).toEqual(['minutes']);
    expect(doc.paths['/devices/{id}'].get.parameters[0].schema.pattern).toBeDefined();
  });

  it('answers real requests with the statuses and bodies it documents', async () => {
    // reads
    expect((await call('get', '/whoami')).body.role).toBe('admin');
    const list = await call('get', '/devices');
    expect(list.body.devices.map((d: Json) => d.id)).toEqual(['pump-01', 'pump-02', 'spare-01']);
    expect(list.body.devices[0].reported).not.toBeNull();
    expect((await call('get', '/devices?limit=2&tag=site=b&offset=0')).body.total).toBe(2);
    await call('get', '/devices/pump-01');
    expect((await call('get', '/models')).body.models).toHaveLength(1);
    expect((await call('get', '/models/tiny')).body.versions).toHaveLength(2);
    const health = await call('get', '/health?model=tiny&version=1.0.0&tag=site=b');
    expect(health.body.totals.inferences).toBeGreaterThan(0);
    const groups = await call('get', '/health/groups?model=tiny&version=1.0.0&by=site');
    expect(groups.body.groups.find((g: Json) => g.value === 'b')?.inferences).toBe(health.body.totals.inferences);
    expect((await call('get', '/health/groups?model=tiny&version=1.0.0&perDevice=true')).body.groups.length).toBeGreaterThan(0);
    expect((await call('get', '/health/groups?model=tiny&version=1.0.0')).status).toBe(400);
    expect((await call('get', '/tags')).body.tags.map((t: Json) => t.key)).toContain('site');
    const overview = await call('get', '/health/overview?minutes=30');
    expect(overview.body.devices.total).toBe(3);
    expect((await call('get', '/fleet/status')).body.health[0].running).toBe(2);
    await call('get', '/audit/verify');

    // a gated rollout, its desired state and actions
    const started = await call('post', '/rollouts', { model: 'tiny', version: '1.1.0', targets: { all: true }, waves: [50, 100], soak: '10m' });
    expect(started.status).toBe(201);
    const id = started.body.rollout.id as string;
    await waitFor(async () => (await admin.get(`/rollouts/${id}`)).body.rollout.waves.length > 0, 'first wave');
    const shown = await call('get', `/rollouts/${id}`);
    expect(shown.body.rollout.plan.waves).toEqual([50, 100]);
    expect(shown.body.rollout.waves[0].devices).toBeGreaterThan(0);
    const sent = shown.body.rollout.waves[0].byOutcome.pending[0] ?? shown.body.rollout.waves[0].byOutcome.converged[0];
    await call('get', `/devices/${sent}/desired`);
    expect((await call('get', '/rollouts')).body.rollouts).toHaveLength(1);
    expect((await call('post', `/rollouts/${id}/pause`, { reason: 'checking the docs' })).body.rollout.status).toBe('paused');
    expect((await call('post', `/rollouts/${id}/resume`)).status).toBe(200);
    expect((await call('post', `/rollouts/${id}/promote`)).status).toBe(409);
    expect((await call('post', `/rollouts/${id}/abort`)).body.rollout.status).toBe('aborted');

    // writes with their success statuses
    const added = await call('post', '/devices', { id: 'pump-09', tags: { site: 'c' } });
    expect(added.status).toBe(201);
    expect((await call('patch', '/devices/pump-09', { tags: { site: 'd' } })).body.device.tags).toEqual({ site: 'd' });
    expect((await call('post', '/devices/pump-09/commands', { action: 'resync' })).status).toBe(202);
    const link = await call('post', '/devices/pump-09/enrolment', {});
    expect(link.status).toBe(201);
    expect((await call('post', '/enrol', { code: link.body.code })).body.deviceId).toBe('pump-09');
    expect((await call('post', '/enrol', { code: link.body.code })).status).toBe(404);
    expect((await call('post', '/tokens', { role: 'viewer' })).status).toBe(201);
    const hook = await call('post', '/webhooks', { url: 'http://127.0.0.1:9/hook' });
    expect(hook.status).toBe(201);
    await call('get', '/webhooks');
    await call('get', '/webhooks/deliveries?limit=5');
    await call('delete', `/webhooks/${hook.body.webhook.id}`);
    await call('delete', '/devices/pump-09');

    // artifact bytes: whole, a range, an unsatisfiable range
    const sha = (await admin.get('/models/tiny')).body.versions[0].sha256 as string;
    const whole = await call('get', `/artifacts/${sha}`);
    expect(whole.status).toBe(200);
    const part = await call('get', `/artifacts/${sha}`, undefined, { range: 'bytes=0-9' });
    expect(part.status).toBe(206);
    expect((part.body as Buffer).length).toBe(10);
    expect((await call('get', `/artifacts/${sha}`, undefined, { range: `bytes=${(whole.body as Buffer).length}-` })).status).toBe(416);

    // refusals carry the documented Error body
    expect((await call('get', '/devices/nobody')).status).toBe(404);
    expect((await call('get', '/health?model=tiny')).status).toBe(400);
    expect((await call('get', '/devices?limit=9999')).status).toBe(400);
    expect((await call('post', '/devices', { id: 'Bad Id!' })).status).toBe(400);
    expect((await call('get', '/devices', undefined, {}, 'ef_forged')).status).toBe(401);
    const viewer = (await admin.post('/tokens', { role: 'viewer' })).body.token as string;
    expect((await call('post', '/tokens', { role: 'admin' }, {}, viewer)).status).toBe(403);
    expect((await call('get', '/openapi.json')).body.openapi).toBe('3.1.0');

    // most documented operations were exercised for real
    const operations = new Set(checked.map((c) => c.split(' ').slice(0, 2).join(' ')));
    expect(operations.size).toBeGreaterThanOrEqual(28);
  });
});
