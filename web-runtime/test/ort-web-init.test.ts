// A failed wasm initialisation latches in onnxruntime-web until the page reloads (issue 12 pitfalls). Its
// own file: ort's state is module-wide, and vitest gives each file a fresh process.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgefleetError } from '@edgefleet/protocol';
import { createOrtWebRuntime, diagnoseWasmFetch } from '@edgefleet/web-runtime';
import { seededClassifier } from '@edgefleet/protocol/testing';

let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url?.startsWith('/plain/')) {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('not wasm');
    } else if (req.url?.startsWith('/good/')) {
      res.writeHead(200, { 'content-type': 'application/wasm' }).end(Buffer.from([0, 0x61, 0x73, 0x6d]));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function rejection(p: Promise<unknown>): Promise<EdgefleetError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(EdgefleetError);
    return err as EdgefleetError;
  }
  throw new Error('expected a rejection');
}

describe('wasm initialisation failures', () => {
  it('says what is wrong with the wasm file: a status, a MIME type, a refused fetch', async () => {
    expect(await diagnoseWasmFetch(`${base}/missing/`)).toMatch(/answered HTTP 404/);
    expect(await diagnoseWasmFetch(`${base}/plain/`)).toMatch(/served as 'text\/plain', not application\/wasm/);
    expect(await diagnoseWasmFetch(`${base}/good/`)).toBeUndefined();
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    expect(await diagnoseWasmFetch(`http://127.0.0.1:${port}/`)).toMatch(/failed .*network down, or a CSP connect-src/);
    expect(await diagnoseWasmFetch('file:///somewhere/')).toBeUndefined(); // nothing to probe
  });

  it('surfaces a failed initialisation as UNAVAILABLE naming the 404, on this load and every later one', async () => {
    const runtime = createOrtWebRuntime({ wasmPaths: `${base}/missing/` });
    const first = await rejection(runtime.load(seededClassifier({ seed: 11, hidden: 8 })));
    expect(first.code).toBe('UNAVAILABLE');
    expect(first.message).toMatch(/could not start its wasm backend/);
    expect(first.message).toMatch(/ort-wasm-simd-threaded\.wasm answered HTTP 404/);
    expect(runtime.initError).toBe(first);

    // ort latches the failure: a later load, even from a runtime with good paths, gets the same clear error
    const later = createOrtWebRuntime({ wasmPaths: `${base}/good/` });
    const second = await rejection(later.load(seededClassifier({ seed: 11, hidden: 8 })));
    expect(second).toBe(first);
    expect(later.initError).toBe(first);
  });
});
