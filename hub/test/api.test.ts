// HTTP API: token roles, model push refusals with codes, releases, error shape, OpenAPI.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '@edgefleet/hub';
import { apiClient, startTestHub, tempDir, tinyModel } from './helpers.js';

describe('HTTP API', () => {
  let hub: Hub;
  let dir: ReturnType<typeof tempDir>;
  let admin: ReturnType<typeof apiClient>;

  beforeAll(async () => {
    dir = tempDir();
    hub = await startTestHub(dir.path, { mqtt: null, ws: null });
    admin = apiClient(hub.urls.http, hub.adminToken);
    expect((await admin.pushModel(tinyModel(), { name: 'tiny', version: '1.0.0' })).status).toBe(201);
  });
  afterAll(async () => {
    await hub.close();
    dir.remove();
  });

  it('lets a viewer read but not push or deploy, and an operator not create tokens', async () => {
    const viewer = apiClient(hub.urls.http, (await admin.post('/tokens', { role: 'viewer' })).body.token);
    const operator = apiClient(hub.urls.http, (await admin.post('/tokens', { role: 'operator' })).body.token);
    expect((await viewer.get('/models')).status).toBe(200);
    const push = await viewer.pushModel(tinyModel(2), { name: 'tiny', version: '2.0.0' });
    expect(push.status).toBe(403);
    expect(push.body.error.code).toBe('FORBIDDEN');
    const deploy = await viewer.post('/rollouts', { model: 'tiny', version: '1.0.0', targets: { all: true } });
    expect(deploy.status).toBe(403);
    expect((await viewer.post('/devices', { id: 'dev-v' })).status).toBe(403);
    const token = await operator.post('/tokens', { role: 'viewer' });
    expect(token.status).toBe(403);
    expect(token.body.error.code).toBe('FORBIDDEN');
    expect((await operator.post('/rollouts', { model: 'tiny', version: '1.0.0', targets: { all: true } })).status).toBe(201);
    const anonymous = await fetch(`${hub.urls.http}/api/v1/devices`);
    expect(anonymous.status).toBe(401);
    expect((await anonymous.json()).error.code).toBe('UNAUTHORIZED');
    expect((await apiClient(hub.urls.http, 'ef_forged').get('/devices')).status).toBe(401);
  });

  it('refuses a truncated ONNX file and a duplicate version, each with its code', async () => {
    const truncated = await admin.pushModel(tinyModel(3).subarray(0, 60), { name: 'tiny', version: '1.1.0' });
    expect(truncated.status).toBe(422);
    expect(['NOT_ONNX', 'INVALID_MODEL']).toContain(truncated.body.error.code);
    const duplicate = await admin.pushModel(tinyModel(4), { name: 'tiny', version: '1.0.0' });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.error.code).toBe('CONFLICT');
    const text = await admin.pushModel(new TextEncoder().encode('hello, not a model'), { name: 'tiny', version: '1.2.0' });
    expect(['NOT_ONNX', 'INVALID_MODEL']).toContain(text.body.error.code);
  });

  it('gives each new version of a model the next release number', async () => {
    const next = await admin.pushModel(tinyModel(5), { name: 'tiny', version: '1.3.0' });
    expect(next.status).toBe(201);
    expect(next.body.release).toBe(2);
    expect(next.body.manifest.selfTest.inputs.length).toBeGreaterThan(0);
    const listed = await admin.get('/models/tiny');
    expect(listed.body.versions.map((v: { release: number }) => v.release)).toEqual([1, 2]);
  });

  it('validates bodies with zod and answers every error as { error: { code, message } }', async () => {
    const bad = await admin.post('/devices', { id: 'Bad Id!' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('BAD_INPUT');
    const notJson = await fetch(`${hub.urls.http}/api/v1/devices`, { method: 'POST', headers: { authorization: `Bearer ${hub.adminToken}`, 'content-type': 'application/json' }, body: '{' });
    expect((await notJson.json()).error.code).toBe('BAD_JSON');
    expect((await admin.get('/devices/nobody')).body.error.code).toBe('NOT_FOUND');
    expect((await admin.post('/rollouts', { model: 'tiny', version: '9.9.9', targets: { all: true } })).body.error.code).toBe('NOT_FOUND');
    expect((await admin.post('/rollouts', { model: 'tiny', version: '1.0.0', targets: {} })).body.error.code).toBe('BAD_INPUT');
    expect((await admin.post('/devices', { id: 'dev-dup' })).status).toBe(201);
    expect((await admin.post('/devices', { id: 'dev-dup' })).body.error.code).toBe('CONFLICT');
  });

  it('publishes an OpenAPI document and Prometheus metrics', async () => {
    const doc = (await (await fetch(`${hub.urls.http}/api/v1/openapi.json`)).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/devices', '/models', '/rollouts', '/fleet/status', '/artifacts/{sha256}']));
    // every operation can be named by a generated client: a unique operationId, a tag, error responses, security
    const ops = Object.values(doc.paths).flatMap((p) => Object.values(p as Record<string, { operationId: string; tags: string[]; responses: Record<string, unknown>; security: unknown[] }>));
    expect(new Set(ops.map((o) => o.operationId)).size).toBe(ops.length);
    for (const o of ops) {
      expect(o.tags.length, o.operationId).toBe(1);
      expect(o.security, o.operationId).toBeDefined();
      expect(Object.keys(o.responses).filter((k) => k >= '400').length, o.operationId).toBeGreaterThan(0);
    }
    const metrics = await (await fetch(`${hub.urls.http}/metrics`)).text();
    expect(metrics).toContain('# TYPE edgefleet_rejected_messages_total counter');
    expect(metrics).toMatch(/edgefleet_devices\{status="offline"\} \d+/);
    // the exposition conventions: HELP and TYPE per family, counters named _total, and every label-free
    // counter (and each declared label set) present at 0 before its first event
    const families = [...metrics.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => ({ name: m[1]!, type: m[2]! }));
    expect(families.length).toBeGreaterThan(30);
    for (const f of families) {
      expect(metrics, f.name).toMatch(new RegExp(`^# HELP ${f.name} \\S`, 'm'));
      expect(f.name).toMatch(/^edgefleet_[a-z0-9_]+$/);
      if (f.type === 'counter') expect(f.name, 'counters end in _total').toMatch(/_total$/);
    }
    for (const zero of ['edgefleet_rollout_rollbacks_total 0', 'edgefleet_drift_alarms_total 0', 'edgefleet_http_requests_total{status="5xx"} 0', 'edgefleet_rollouts{status="rolled-back"} 0']) {
      expect(metrics).toContain(`${zero}\n`);
    }
    expect(metrics).toMatch(/^edgefleet_build_info\{version="\d+\.\d+\.\d+",node="v\d+\.\d+\.\d+"\} 1$/m);
    expect((await admin.get('/audit/verify')).body.ok).toBe(true);
  });
});
