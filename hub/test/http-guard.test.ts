// HTTP API guard (design §7): who may call a route is decided from its headers before one body byte
// is read, and every body is capped while it streams. Bodies here are chunked and generated lazily,
// far larger than the socket buffers: a server that read them before answering would answer only
// after the client had written all of them.

import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '@edgefleet/hub';
import { apiClient, startTestHub, tempDir, tinyModel, waitFor } from './helpers.js';
import { multipartHead, streamRequest } from './http-support.js';

const MiB = 1024 * 1024;
/** More than any socket buffer on the path; bodies refused early are written only in small part. */
const EARLY = 32 * MiB;

describe('HTTP API guard', () => {
  let hub: Hub;
  let dir: ReturnType<typeof tempDir>;
  let admin: ReturnType<typeof apiClient>;
  let viewer: string;
  let operator: string;

  beforeAll(async () => {
    dir = tempDir();
    hub = await startTestHub(dir.path, { mqtt: null, ws: null, maxModelBytes: 4 * MiB });
    admin = apiClient(hub.urls.http, hub.adminToken);
    viewer = (await admin.post('/tokens', { role: 'viewer' })).body.token;
    operator = (await admin.post('/tokens', { role: 'operator' })).body.token;
  });
  afterAll(async () => {
    await hub.close();
    dir.remove();
  });

  const upload = (token: string | null, total: number) => {
    const boundary = 'b0undary';
    return streamRequest(hub.urls.http, {
      path: '/api/v1/models',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, ...(token ? { authorization: `Bearer ${token}` } : {}) },
      prefix: multipartHead(boundary, { name: 'big', version: '1.0.0' }),
      total,
    });
  };

  it('refuses a 256 MiB model upload without a token, with a forged one and with a viewer token before reading the body', async () => {
    for (const [token, status, code] of [
      [null, 401, 'UNAUTHORIZED'],
      ['ef_forged', 401, 'UNAUTHORIZED'],
      [viewer, 403, 'FORBIDDEN'],
    ] as const) {
      const res = await upload(token, 256 * MiB);
      expect(res.status, `${token}`).toBe(status);
      expect(res.body.error.code).toBe(code);
      expect(typeof res.body.error.message).toBe('string');
      expect(res.finished).toBe(false);
      expect(res.sentBeforeResponse).toBeLessThan(EARLY);
    }
    // the hub still serves
    expect((await admin.get('/models')).status).toBe(200);
    const metrics = await (await fetch(`${hub.urls.http}/metrics`)).text();
    expect(metrics).toMatch(/edgefleet_http_refused_total\{code="UNAUTHORIZED"\} [1-9]/);
    expect(metrics).toMatch(/edgefleet_http_refused_total\{code="FORBIDDEN"\} [1-9]/);
  });

  it('answers 413 as soon as an operator upload passes the cap, and leaves no temp file', async () => {
    const res = await upload(operator, 256 * MiB);
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('TOO_LARGE');
    expect(res.finished).toBe(false);
    expect(res.sentBeforeResponse).toBeLessThan(EARLY);
    const uploads = join(hub.dataDir, 'uploads');
    await waitFor(() => readdirSync(uploads).length === 0, 'the upload temp file to be removed');
    // a model under the cap still goes through the same streaming path
    expect((await apiClient(hub.urls.http, operator).pushModel(tinyModel(), { name: 'tiny', version: '1.0.0' })).status).toBe(201);
    expect(readdirSync(uploads)).toEqual([]);
  });

  it('refuses every JSON route without a token before reading the body, and caps bodies of allowed callers while they stream', async () => {
    const routes: Array<[string, string]> = [
      ['POST', '/api/v1/devices'],
      ['PATCH', '/api/v1/devices/dev-1'],
      ['POST', '/api/v1/devices/dev-1/commands'],
      ['POST', '/api/v1/rollouts'],
      ['POST', '/api/v1/rollouts/r-1/pause'],
      ['POST', '/api/v1/tokens'],
      ['POST', '/api/v1/webhooks'],
    ];
    for (const [method, path] of routes) {
      const anonymous = await streamRequest(hub.urls.http, { method, path, headers: { 'content-type': 'application/json' }, total: 128 * MiB });
      expect([path, anonymous.status, anonymous.body.error?.code]).toEqual([path, 401, 'UNAUTHORIZED']);
      expect(anonymous.sentBeforeResponse).toBeLessThan(EARLY);
      const tooBig = await streamRequest(hub.urls.http, { method, path, headers: { 'content-type': 'application/json', authorization: `Bearer ${hub.adminToken}` }, total: 128 * MiB });
      expect([path, tooBig.status, tooBig.body.error?.code]).toEqual([path, 413, 'TOO_LARGE']);
      expect(tooBig.sentBeforeResponse).toBeLessThan(EARLY);
    }
    expect((await admin.get('/devices')).body.devices).toEqual([]);
  });

  it('authenticates every documented route from its headers before any body byte; the one open route caps its body', async () => {
    const doc = (await (await fetch(`${hub.urls.http}/api/v1/openapi.json`)).json()) as { paths: Record<string, Record<string, { security?: unknown[] }>> };
    // an open route (`security: []`, only POST /enrol: its code is the credential) refuses the flood by its small body cap instead
    const routes = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([m, op]) => [m.toUpperCase(), `/api/v1${path.replace(/\{[^}]+\}/g, 'x')}`, op.security?.length === 0] as const),
    );
    expect(routes.length).toBeGreaterThan(20);
    expect(routes.filter((r) => r[2]).map((r) => r[1])).toEqual(['/api/v1/enrol', '/api/v1/openapi.json']);
    const seen: string[] = [];
    for (const [method, path] of routes) {
      const res = await streamRequest(hub.urls.http, { method, path, total: 64 * MiB });
      seen.push(`${method} ${path} ${res.status} ${res.body.error?.code} ${res.sentBeforeResponse < EARLY}`);
    }
    // the open GET (this document) never reads a body: it answers at once
    expect(seen).toEqual(routes.map(([method, path, open]) => `${method} ${path} ${open ? (method === 'GET' ? '200 undefined' : '413 TOO_LARGE') : '401 UNAUTHORIZED'} true`));
    // not documented is not open: an unknown API path needs a token too
    expect((await streamRequest(hub.urls.http, { method: 'PUT', path: '/api/v1/nothing-here', total: 64 * MiB })).status).toBe(401);
    expect((await apiClient(hub.urls.http, viewer).get('/nothing-here')).status).toBe(404);
  });

  it('removes upload temp files a crash left behind when the hub starts', async () => {
    const other = tempDir();
    try {
      mkdirSync(join(other.path, 'uploads'), { recursive: true });
      writeFileSync(join(other.path, 'uploads', '1-abc.upload'), 'half a model');
      const h = await startTestHub(other.path, { mqtt: null, ws: null });
      await h.close();
      expect(readdirSync(join(other.path, 'uploads'))).toEqual([]);
    } finally {
      other.remove();
    }
  });
});
