// The local OIP API's routes and refusals (design §5): health, metadata, ids, feedback, and
// bad requests that each get the right 4xx + code without disturbing good requests running beside them.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { multiIoModel } from '@edgefleet/protocol/testing';
import { startTestServer, type TestServer } from './support/local-api-server.js';

const MAX_BODY = 256 * 1024;
let server: TestServer;

beforeAll(async () => {
  const bytes = multiIoModel();
  server = await startTestServer(
    [
      { name: 'multi', version: '1.0.0', bytes },
      { name: 'multi', version: '2.0.0', bytes },
    ],
    { maxBodyBytes: MAX_BODY },
  );
});

afterAll(async () => {
  await server?.close();
});

const goodInputs = (batch = 1) => [
  { name: 'x', datatype: 'FP32', shape: [batch, 3], data: Array.from({ length: batch * 3 }, (_, i) => i) },
  { name: 'ids', datatype: 'INT64', shape: [batch], data: Array.from({ length: batch }, (_, i) => i) },
  { name: 'mask', datatype: 'BOOL', shape: [batch], data: Array.from({ length: batch }, () => true) },
];

describe('health and metadata', () => {
  it('answers server metadata, liveness and readiness', async () => {
    expect(await server.get('/v2')).toEqual({
      status: 200,
      json: { name: 'edgefleet-agent', version: '0.1.0', extensions: [] },
    });
    expect(await server.get('/v2/health/live')).toEqual({ status: 200, json: { live: true } });
    expect(await server.get('/v2/health/ready')).toEqual({ status: 200, json: { ready: true } });
  });

  it('reports model and version readiness, 404 for unknown ones', async () => {
    expect(await server.get('/v2/models/multi/ready')).toEqual({ status: 200, json: { name: 'multi', ready: true } });
    expect((await server.get('/v2/models/multi/versions/2.0.0/ready')).status).toBe(200);
    expect(await server.get('/v2/models/nope/ready')).toEqual({
      status: 404,
      json: { error: "model 'nope' not found", code: 'NOT_FOUND' },
    });
    expect(await server.get('/v2/models/multi/versions/9.9.9')).toEqual({
      status: 404,
      json: { error: "model 'multi' version '9.9.9' not found", code: 'NOT_FOUND' },
    });
    expect((await server.get('/v2/models/multi/versions/1.0.0')).json.versions).toEqual(['1.0.0', '2.0.0']);
  });

  it('answers an unknown route with the OIP error shape', async () => {
    expect(await server.get('/v3/anything')).toEqual({
      status: 404,
      json: { error: 'no route GET /v3/anything', code: 'NOT_FOUND' },
    });
  });
});

describe('infer', () => {
  it('echoes the request id and names the version that answered', async () => {
    const res = await server.post('/v2/models/multi/versions/2.0.0/infer', { id: 'req-42', inputs: goodInputs() });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ model_name: 'multi', model_version: '2.0.0', id: 'req-42' });
  });

  it('assigns a fresh id when the request has none', async () => {
    const a = await server.post('/v2/models/multi/infer', { inputs: goodInputs() });
    const b = await server.post('/v2/models/multi/infer', { inputs: goodInputs() });
    expect(a.json.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(b.json.id).not.toBe(a.json.id);
  });

  it('takes feedback for a known prediction id and 404s an unknown one', async () => {
    const res = await server.post('/v2/models/multi/infer', { id: 'labelled-1', inputs: goodInputs() });
    expect(res.status).toBe(200);
    expect(await server.post('/v2/models/multi/feedback', { id: 'labelled-1', label: 1 })).toEqual({
      status: 200,
      json: { id: 'labelled-1', accepted: true },
    });
    expect(server.service.labels.get('labelled-1')).toBe(1);
    expect(await server.post('/v2/models/multi/feedback', { id: 'never-seen', label: 'cat' })).toEqual({
      status: 404,
      json: { error: "no prediction with id 'never-seen'", code: 'NOT_FOUND' },
    });
    expect((await server.post('/v2/models/multi/feedback', { label: 1 })).json.code).toBe('BAD_INPUT');
  });
});

/** Stream `total` bytes without Content-Length (chunked) and return the status the server answered with. */
function streamHugeBody(url: string, total: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    const pump = (): void => {
      while (sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    req.on('response', () => req.destroyed || req.off('drain', pump));
    pump();
  });
}

describe('bad requests', () => {
  const infer = (body: unknown) => server.post('/v2/models/multi/infer', body);

  it('unknown model → 404 NOT_FOUND', async () => {
    expect(await server.post('/v2/models/ghost/infer', { inputs: goodInputs() })).toEqual({
      status: 404,
      json: { error: "model 'ghost' not found", code: 'NOT_FOUND' },
    });
  });

  it('wrong input name → 400 BAD_INPUT naming the real inputs', async () => {
    const inputs = goodInputs();
    inputs[0]!.name = 'features';
    expect(await infer({ inputs })).toEqual({
      status: 400,
      json: { error: "unknown input 'features' (model inputs: x, ids, mask)", code: 'BAD_INPUT' },
    });
  });

  it('wrong datatype → 400 BAD_INPUT saying what was expected', async () => {
    const inputs = goodInputs();
    inputs[1]!.datatype = 'FP32';
    expect(await infer({ inputs })).toEqual({
      status: 400,
      json: { error: "input 'ids' expects INT64, got FP32", code: 'BAD_INPUT' },
    });
  });

  it('wrong shape → 400 BAD_INPUT', async () => {
    const inputs = goodInputs();
    inputs[0]!.shape = [3, 1];
    expect(await infer({ inputs })).toEqual({
      status: 400,
      json: { error: "input 'x' dimension 1 must be 3, got 1 (expects [batch, 3])", code: 'BAD_INPUT' },
    });
  });

  it('a request that is not an OIP request → 400 BAD_INPUT', async () => {
    const res = await infer({ inputs: 'x' });
    expect(res.status).toBe(400);
    expect(res.json.code).toBe('BAD_INPUT');
    expect(res.json.error).toMatch(/^invalid inference request: inputs/);
  });

  it('unknown requested output → 400 BAD_INPUT', async () => {
    expect((await infer({ inputs: goodInputs(), outputs: [{ name: 'logits' }] })).json).toEqual({
      error: "unknown output 'logits' (model outputs: y, ids2, picked, nmask)",
      code: 'BAD_INPUT',
    });
  });

  it('malformed JSON → 400 BAD_JSON', async () => {
    const res = await infer('{"inputs": [');
    expect(res.status).toBe(400);
    expect(res.json.code).toBe('BAD_JSON');
    expect(res.json.error).toMatch(/^request body is not valid JSON/);
  });

  it('a body over the cap declared by Content-Length → 413 TOO_LARGE', async () => {
    const res = await infer(' '.repeat(MAX_BODY + 1));
    expect(res).toEqual({
      status: 413,
      json: { error: `request body of ${MAX_BODY + 1} bytes exceeds ${MAX_BODY} bytes`, code: 'TOO_LARGE' },
    });
  });

  it('a streamed body without Content-Length over the cap → 413 TOO_LARGE', async () => {
    const res = await streamHugeBody(`${server.api.url}/v2/models/multi/infer`, 64 * MAX_BODY);
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toEqual({ error: `request body exceeds ${MAX_BODY} bytes`, code: 'TOO_LARGE' });
  });

  it('bad requests do not disturb good requests running at the same time', async () => {
    const good = Array.from({ length: 12 }, (_, i) => server.post('/v2/models/multi/infer', { id: `g${i}`, inputs: goodInputs(2) }));
    const wrongName = goodInputs();
    wrongName[2]!.name = 'm';
    const bad = [
      server.post('/v2/models/ghost/infer', { inputs: goodInputs() }),
      infer({ inputs: wrongName }),
      infer('{not json'),
      infer(' '.repeat(MAX_BODY * 2)),
      streamHugeBody(`${server.api.url}/v2/models/multi/infer`, 16 * MAX_BODY).then((r) => ({
        status: r.status,
        json: JSON.parse(r.body),
      })),
    ];
    const [goodRes, badRes] = await Promise.all([Promise.all(good), Promise.all(bad)]);
    expect(badRes.map((r) => [r.status, r.json.code])).toEqual([
      [404, 'NOT_FOUND'],
      [400, 'BAD_INPUT'],
      [400, 'BAD_JSON'],
      [413, 'TOO_LARGE'],
      [413, 'TOO_LARGE'],
    ]);
    const reference = goodRes[0]!.json.outputs;
    goodRes.forEach((r, i) => {
      expect(r.status).toBe(200);
      expect(r.json.id).toBe(`g${i}`);
      expect(r.json.outputs).toEqual(reference);
    });
    // and the server still answers afterwards
    expect((await server.get('/v2/health/ready')).status).toBe(200);
  });
});
