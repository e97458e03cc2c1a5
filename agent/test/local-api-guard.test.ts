// What a page on another origin, an oversized batch or an unrepresentable value can do to the local OIP
// API (design §5): a foreign Host or Origin is 403, a body that is not application/json is 415, a request
// over a row, element or byte cap is 413, a value the datatype cannot hold is 400 — none reaches the
// model, and valid requests beside them still work.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModel } from '@edgefleet/protocol/onnx';
import { multiIoModel } from '@edgefleet/protocol/testing';
import { typesModel } from './support/models.js';
import { startTestServer, type TestServer } from './support/local-api-server.js';

const MAX_ROWS = 100;
const MAX_ELEMENTS = 250;
let server: TestServer;
let port: number;

const halfModel = () =>
  buildModel({
    inputs: [{ name: 'h', type: 'float16', shape: ['n'] }],
    outputs: [{ name: 'h_out', type: 'float16', shape: ['n'] }],
    nodes: [{ op: 'Identity', inputs: ['h'], outputs: ['h_out'] }],
  });

beforeAll(async () => {
  server = await startTestServer(
    [
      { name: 'multi', version: '1.0.0', bytes: multiIoModel() },
      { name: 'types', version: '1.0.0', bytes: typesModel() },
      { name: 'half', version: '1.0.0', bytes: halfModel() },
    ],
    { maxRows: MAX_ROWS, maxElements: MAX_ELEMENTS, allowedHosts: ['device-7.local', 'gateway.lan:8443'] },
  );
  port = server.api.port;
});

afterAll(async () => {
  await server?.close();
});

/** A request with the exact headers given (fetch would not let us set Host), answered as parsed JSON. */
function raw(
  method: 'GET' | 'POST',
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, setHost: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : null }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const batch = (n: number) => ({
  inputs: [
    { name: 'x', datatype: 'FP32', shape: [n, 3], data: Array.from({ length: n * 3 }, (_, i) => i / 10) },
    { name: 'ids', datatype: 'INT64', shape: [n], data: Array.from({ length: n }, (_, i) => i) },
    { name: 'mask', datatype: 'BOOL', shape: [n], data: Array.from({ length: n }, () => true) },
  ],
});
const JSON_TYPE = { 'content-type': 'application/json' };
const INFER = '/v2/models/multi/infer';

describe('Host and Origin', () => {
  it('refuses a Host it is not configured for (DNS rebinding) with 403 FORBIDDEN, before running anything', async () => {
    const before = server.service.calls.infer;
    for (const host of [`attacker.example:${port}`, `localhost.attacker.example:${port}`, `127.0.0.1:${port + 1}`, 'localhost', `device-7.local:${port + 1}`]) {
      const infer = await raw('POST', INFER, { host, ...JSON_TYPE }, JSON.stringify(batch(1)));
      expect(infer.status, host).toBe(403);
      expect(infer.json.code).toBe('FORBIDDEN');
      expect((await raw('GET', '/v2/models/multi', { host })).status, host).toBe(403);
    }
    // no Host at all: node's HTTP/1.1 parser refuses it (400) before the API, which would say 403
    expect([400, 403]).toContain((await raw('GET', '/v2/health/ready', {})).status);
    expect(server.service.calls.infer).toBe(before);
  });

  it('answers its bind address, the loopback names and the configured extra names', async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`, `device-7.local:${port}`, 'gateway.lan:8443']) {
      const res = await raw('POST', INFER, { host, ...JSON_TYPE }, JSON.stringify(batch(2)));
      expect(res.status, host).toBe(200);
      expect(res.json.outputs).toHaveLength(4);
    }
  });

  it('refuses a request a page on another origin sends, even to an allowed Host', async () => {
    const before = server.service.calls.infer;
    for (const origin of ['http://attacker.example', 'null', `http://localhost:${port + 1}`]) {
      const res = await raw('POST', INFER, { host: `127.0.0.1:${port}`, origin, ...JSON_TYPE }, JSON.stringify(batch(1)));
      expect(res.status, origin).toBe(403);
      expect(res.json.code).toBe('FORBIDDEN');
    }
    // the API's own origin is fine
    expect((await raw('POST', INFER, { host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}`, ...JSON_TYPE }, JSON.stringify(batch(1)))).status).toBe(200);
    expect(server.service.calls.infer).toBe(before + 1);
  });
});

describe('Content-Type', () => {
  it('refuses a no-cors text/plain POST (or any body that is not application/json) with 415, running nothing', async () => {
    const host = `127.0.0.1:${port}`;
    const good = await raw('POST', INFER, { host, ...JSON_TYPE }, JSON.stringify({ id: 'fb-1', ...batch(1) }));
    expect(good.status).toBe(200);
    const before = { ...server.service.calls };
    for (const type of ['text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', undefined]) {
      const headers: Record<string, string> = { host, ...(type ? { 'content-type': type } : {}) };
      const infer = await raw('POST', INFER, headers, JSON.stringify(batch(1)));
      expect(infer.status, type).toBe(415);
      expect(infer.json.code).toBe('BAD_INPUT');
      const feedback = await raw('POST', '/v2/models/multi/feedback', headers, JSON.stringify({ id: 'fb-1', label: 1 }));
      expect(feedback.status, type).toBe(415);
    }
    expect(server.service.calls).toEqual(before);
    expect(server.service.labels.has('fb-1')).toBe(false);
    // parameters on application/json are fine
    expect((await raw('POST', INFER, { host, 'content-type': 'Application/JSON; charset=utf-8' }, JSON.stringify(batch(1)))).status).toBe(200);
  });
});

describe('request caps', () => {
  it('refuses more rows than the cap with 413 TOO_LARGE, before the model runs', async () => {
    const before = server.service.calls.infer;
    const res = await server.post(INFER, batch(MAX_ROWS + 1));
    expect(res).toEqual({ status: 413, json: { error: `input 'x' has ${MAX_ROWS + 1} rows, over the cap of ${MAX_ROWS} per request`, code: 'TOO_LARGE' } });
    // rows declared in the shape count, whatever the data holds
    expect((await server.post(INFER, { inputs: [{ name: 'x', datatype: 'FP32', shape: [200_000, 3], data: [] }] })).status).toBe(413);
    expect(server.service.calls.infer).toBe(before);
  });

  it('refuses more tensor elements than the cap with 413 TOO_LARGE; a request at the cap runs', async () => {
    // 50 rows: 150 + 50 + 50 = 250 elements, at the cap; 51 rows: 255
    expect((await server.post(INFER, batch(50))).status).toBe(200);
    const over = await server.post(INFER, batch(51));
    expect(over).toEqual({ status: 413, json: { error: `the request holds 255 tensor elements, over the cap of ${MAX_ELEMENTS}`, code: 'TOO_LARGE' } });
    const huge = await server.post('/v2/models/types/infer', { inputs: [{ name: 'f64', datatype: 'FP64', shape: [2, 2 ** 40], data: [] }] });
    expect(huge.json.code).toBe('TOO_LARGE');
  });

  it('caps bodies at 4 MiB by default, refusing a longer stream while reading it', async () => {
    const plain = await startTestServer([{ name: 'multi', version: '1.0.0', bytes: multiIoModel() }]);
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request(`${plain.api.url}${INFER}`, { method: 'POST', headers: JSON_TYPE }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
        const chunk = Buffer.alloc(256 * 1024, 0x20);
        let sent = 0;
        const pump = (): void => {
          while (sent < 6 * 1024 * 1024) {
            sent += chunk.length;
            if (!req.write(chunk)) return void req.once('drain', pump);
          }
          req.end();
        };
        pump();
      });
      expect(status).toBe(413);
      expect((await plain.post(INFER, batch(4))).status).toBe(200);
    } finally {
      await plain.close();
    }
  });
});

describe('values the datatype cannot hold', () => {
  const cases: [string, string, string][] = [
    // [model, input JSON with a literal that JSON.stringify cannot write, what the error says]
    ['multi', '{"name":"x","datatype":"FP32","shape":[1,3],"data":[1e39,0,0]}', "input 'x' value at index 0 (1e+39) is not finite or is out of range ±3.4028234663852886e+38 for FP32"],
    ['multi', '{"name":"x","datatype":"FP32","shape":[1,3],"data":[0,-1e39,0]}', "input 'x' value at index 1 (-1e+39) is not finite"],
    ['multi', '{"name":"x","datatype":"FP32","shape":[1,3],"data":[0,0,1e999]}', "input 'x' value at index 2 (Infinity) is not finite"],
    ['multi', '{"name":"ids","datatype":"INT64","shape":[1],"data":[1e999]}', "input 'ids' value at index 0 (Infinity) is not an integer"],
    ['multi', '{"name":"ids","datatype":"INT64","shape":[1],"data":["9223372036854775808"]}', 'is out of range for INT64'],
    ['multi', '{"name":"mask","datatype":"BOOL","shape":[1],"data":[2]}', 'is not true/false for BOOL'],
    ['types', '{"name":"f64","datatype":"FP64","shape":[2,1],"data":[1e999,0]}', "input 'f64' value at index 0 (Infinity) is not finite for FP64"],
    ['types', '{"name":"i32","datatype":"INT32","shape":[2,1],"data":[2147483648,0]}', 'is out of range [-2147483648, 2147483647] for INT32'],
    ['types', '{"name":"i32","datatype":"INT32","shape":[2,1],"data":[1.5,0]}', 'is not an integer for INT32'],
    ['half', '{"name":"h","datatype":"FP16","shape":[2],"data":[1,70000]}', "input 'h' value at index 1 (70000) is not finite or is out of range ±65504 for FP16"],
  ];
  const rest: Record<string, string[]> = {
    multi: [
      '{"name":"x","datatype":"FP32","shape":[1,3],"data":[0,0,0]}',
      '{"name":"ids","datatype":"INT64","shape":[1],"data":[0]}',
      '{"name":"mask","datatype":"BOOL","shape":[1],"data":[true]}',
    ],
    types: ['f64', 'i32', 'i8', 'u8'].map((n) => `{"name":"${n}","datatype":"${{ f64: 'FP64', i32: 'INT32', i8: 'INT8', u8: 'UINT8' }[n]}","shape":[2,1],"data":[0,0]}`),
    half: [],
  };
  const body = (model: string, input: string): string => {
    const name = /"name":"(\w+)"/.exec(input)![1]!;
    const others = rest[model]!.filter((s) => !s.includes(`"name":"${name}"`));
    return `{"inputs":[${[input, ...others].join(',')}]}`;
  };

  it('refuses a non-finite or out-of-range value for FP32, FP64, FP16, INT32, INT64 and BOOL with 400 BAD_INPUT', async () => {
    const before = server.service.calls.infer;
    for (const [model, input, says] of cases) {
      const res = await server.post(`/v2/models/${model}/infer`, body(model, input));
      expect(res.status, input).toBe(400);
      expect(res.json.code, input).toBe('BAD_INPUT');
      expect(res.json.error, input).toContain(says);
    }
    expect(server.service.calls.infer).toBe(before + cases.length); // refused by the decoder, before any run
  });

  it('still runs the extreme values each datatype can hold', async () => {
    const fp32 = await server.post(INFER, body('multi', '{"name":"x","datatype":"FP32","shape":[1,3],"data":[3.4028234663852886e38,-3.4e38,1e-45]}'));
    expect(fp32.status).toBe(200);
    const half = await server.post('/v2/models/half/infer', body('half', '{"name":"h","datatype":"FP16","shape":[2],"data":[65504,-65504]}'));
    expect(half.json.outputs[0].data).toEqual([65504, -65504]);
    const i32 = await server.post('/v2/models/types/infer', body('types', '{"name":"i32","datatype":"INT32","shape":[2,1],"data":[1073741823,-1073741824]}'));
    expect(i32.json.outputs.find((o: { name: string }) => o.name === 'i32_out').data).toEqual([2147483646, -2147483648]);
  });
});
