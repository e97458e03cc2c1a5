// The browser device page at /device (issue 12): static files from the bundle directory with the headers a
// page that compiles wasm and dials MQTT over WebSocket needs, and MQTT over WebSocket on the hub's HTTP
// port at /mqtt through the embedded broker's guards. Real hubs; a temp directory stands in for the bundle.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, brotliDecompressSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startHub, type Hub } from '@edgefleet/hub';
import { topics } from '@edgefleet/protocol';
import { apiClient, connectDevice, endClient, startTestHub, tempDir, waitFor } from './helpers.js';
import { MOSQUITTO, startMosquitto, type MosquittoProcess } from './processes.js';

const INDEX = '<!doctype html><html><head><script type="module" src="/device/assets/app-1a2b3c.js"></script></head><body>device</body></html>\n';
const SW = `self.addEventListener('fetch', () => undefined);\n${'// cache the shell\n'.repeat(64)}`;
const APP_JS = `export const app = ${JSON.stringify('x'.repeat(4000))};\n`;
// a valid wasm module header and a body that compresses
const WASM = Buffer.concat([Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]), Buffer.alloc(64 * 1024, 7)]);

function writeBundle(dir: string): void {
  mkdirSync(join(dir, 'assets'), { recursive: true });
  writeFileSync(join(dir, 'index.html'), INDEX);
  writeFileSync(join(dir, 'sw.js'), SW);
  writeFileSync(join(dir, 'assets', 'app-1a2b3c.js'), APP_JS);
  writeFileSync(join(dir, 'assets', 'ort-wasm-simd-threaded-9f8e.wasm'), WASM);
  writeFileSync(join(dir, 'assets', 'ort-wasm-simd-threaded-9f8e.mjs'), 'export default 1;\n');
  writeFileSync(join(dir, 'assets', 'style-77.css'), 'body{margin:0}\n');
}

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A GET with exactly these headers and this path (fetch would normalise `..` and decompress). */
function get(base: string, path: string, headers: Record<string, string> = {}): Promise<Raw> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** An upgrade request on `path`: the status line the hub answers and whether it closed the socket. */
function upgrade(base: string, path: string, protocol = 'websocket'): Promise<{ status: number; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({
      host: u.hostname,
      port: u.port,
      path,
      headers: { connection: 'Upgrade', upgrade: protocol, 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-protocol': 'mqtt' },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 101, body: '' });
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

const wsUrl = (hub: Hub) => `${hub.urls.http.replace(/^http:/, 'ws:')}/mqtt`;

describe('the device page at /device', () => {
  let dir: ReturnType<typeof tempDir>;
  let hub: Hub;
  let bundle: string;

  beforeAll(async () => {
    dir = tempDir();
    bundle = join(dir.path, 'bundle');
    writeBundle(bundle);
    // a secret next to the bundle, and a symlink from inside the bundle to it
    writeFileSync(join(dir.path, 'secret.txt'), 'not for the page');
    symlinkSync(join(dir.path, 'secret.txt'), join(bundle, 'assets', 'leak.txt'));
    // a dotfile in the bundle (an editor's or a deploy tool's) is not part of the page
    writeFileSync(join(bundle, '.hidden'), 'not for the page');
    hub = await startTestHub(join(dir.path, 'hub'), { devicePageDir: bundle });
  });
  afterAll(async () => {
    await hub?.close();
    dir?.remove();
  });

  it('redirects /device to /device/, the Service Worker scope, keeping the query', async () => {
    const r = await get(hub.urls.http, '/device?x=1');
    expect(r.status).toBe(308);
    expect(r.headers.location).toBe('/device/?x=1');
  });

  it('serves the shell at /device/ without auth, revalidated with an ETag, under a CSP that allows wasm and the MQTT WebSocket', async () => {
    for (const path of ['/device/', '/device/index.html']) {
      const r = await get(hub.urls.http, path);
      expect(r.status).toBe(200);
      expect(r.body.toString()).toBe(INDEX);
      expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(r.headers['cache-control']).toBe('no-cache');
      expect(r.headers['x-content-type-options']).toBe('nosniff');
      const host = new URL(hub.urls.http).host;
      const csp = String(r.headers['content-security-policy']);
      expect(csp).toContain("script-src 'self' 'wasm-unsafe-eval'");
      expect(csp).toContain(`connect-src 'self' ws://${host} wss://${host}`);
      for (const d of ["default-src 'self'", "worker-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"]) expect(csp).toContain(d);
      // not isolated unless asked
      expect(r.headers['cross-origin-opener-policy']).toBeUndefined();
      expect(r.headers['cross-origin-embedder-policy']).toBeUndefined();
      const etag = String(r.headers.etag);
      expect(etag).toMatch(/^"[0-9a-f]+"$/);
      const again = await get(hub.urls.http, path, { 'if-none-match': etag });
      expect(again.status).toBe(304);
      expect(again.body.length).toBe(0);
    }
  });

  it('keeps a Host header that would add CSP directives out of the policy', async () => {
    // one with spaces the HTTP server refuses itself; these reach the page
    for (const host of ["evil;script-src", "evil'unsafe-inline'", 'evil*']) {
      const r = await get(hub.urls.http, '/device/', { host });
      expect(r.status, host).toBe(200);
      const csp = String(r.headers['content-security-policy']);
      expect(csp, host).not.toContain('evil');
      expect(csp, host).toContain("connect-src 'self';");
    }
  });

  it('serves the service worker revalidated, allowed the /device/ scope', async () => {
    const r = await get(hub.urls.http, '/device/sw.js');
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe(SW);
    expect(r.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(r.headers['cache-control']).toBe('no-cache');
    expect(r.headers['service-worker-allowed']).toBe('/device/');
    expect((await get(hub.urls.http, '/device/sw.js', { 'if-none-match': String(r.headers.etag) })).status).toBe(304);
  });

  it('serves hashed assets immutable with their MIME types, wasm as application/wasm', async () => {
    const cases: Array<[string, string]> = [
      ['ort-wasm-simd-threaded-9f8e.wasm', 'application/wasm'],
      ['ort-wasm-simd-threaded-9f8e.mjs', 'text/javascript; charset=utf-8'],
      ['app-1a2b3c.js', 'text/javascript; charset=utf-8'],
      ['style-77.css', 'text/css; charset=utf-8'],
    ];
    for (const [name, type] of cases) {
      const r = await get(hub.urls.http, `/device/assets/${name}`);
      expect(r.status, name).toBe(200);
      expect(r.headers['content-type'], name).toBe(type);
      expect(r.headers['cache-control'], name).toBe('public, max-age=31536000, immutable');
      expect(r.headers['content-encoding'], name).toBeUndefined();
    }
    const wasm = await get(hub.urls.http, '/device/assets/ort-wasm-simd-threaded-9f8e.wasm');
    expect(wasm.body.equals(WASM)).toBe(true);
  });

  it('compresses for clients that accept it: gzip and br bodies decompress to the file', async () => {
    const gz = await get(hub.urls.http, '/device/assets/ort-wasm-simd-threaded-9f8e.wasm', { 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers.vary).toBe('accept-encoding');
    expect(gz.body.length).toBeLessThan(WASM.length / 10);
    expect(gunzipSync(gz.body).equals(WASM)).toBe(true);
    const br = await get(hub.urls.http, '/device/assets/app-1a2b3c.js', { 'accept-encoding': 'gzip, deflate, br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(br.body).toString()).toBe(APP_JS);
    const html = await get(hub.urls.http, '/device/', { 'accept-encoding': 'gzip' });
    // the shell is under the size worth compressing
    expect(html.body.toString()).toBe(INDEX);
    const refused = await get(hub.urls.http, '/device/assets/app-1a2b3c.js', { 'accept-encoding': 'gzip;q=0, identity' });
    expect(refused.headers['content-encoding']).toBeUndefined();
    expect(refused.body.toString()).toBe(APP_JS);
  });

  it('refuses paths out of the bundle, symlinks leading out, and unknown files with NOT_FOUND', async () => {
    for (const path of [
      '/device/../secret.txt',
      '/device/%2e%2e/secret.txt',
      '/device/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
      '/device/assets/..%2F..%2Fsecret.txt',
      `/device/${encodeURIComponent(join(dir.path, 'secret.txt'))}`,
      '/device//etc/passwd',
      '/device/assets/leak.txt',
      '/device/assets/missing-123.js',
      '/device/assets',
      '/device/.hidden',
    ]) {
      const r = await get(hub.urls.http, path);
      expect(r.status, path).toBe(404);
      expect(r.body.toString(), path).not.toContain('not for the page');
      if (r.headers['content-type']?.includes('json')) expect(JSON.parse(r.body.toString()).error.code, path).toBe('NOT_FOUND');
    }
  });

  it('takes MQTT over WebSocket on the HTTP port at /mqtt: a device connects with its credentials and publishes its status', async () => {
    const api = apiClient(hub.urls.http, hub.adminToken);
    const added = await api.post('/devices', { id: 'web-1' });
    expect(added.status).toBe(201);
    // the config a browser device gets dials this origin
    expect(added.body.agentConfig.brokers.ws).toBe(wsUrl(hub));
    expect(added.body.agentConfig.brokers.tcp).toBe(hub.urls.mqtt);
    const c = await connectDevice(added.body.agentConfig.brokers.ws, 'web-1', added.body.token);
    await c.publishAsync(topics.status('web-1'), 'online', { qos: 1, retain: true });
    await waitFor(async () => {
      await hub.flush();
      return (await api.get('/devices/web-1')).body.device.status === 'online';
    }, 'web-1 online');
    await endClient(c);
    // a wrong password is refused like on every listener
    await expect(connectDevice(wsUrl(hub), 'web-1', 'wrong-password-1234')).rejects.toThrow();
  });

  it('cuts an oversize packet on /mqtt and counts it as on the ws listener', async () => {
    const before = hub.metrics.get('edgefleet_rejected_messages_total', { reason: 'TOO_LARGE', topic: 'mqtt' });
    const ws = new WebSocket(wsUrl(hub), 'mqtt');
    await new Promise((r, j) => {
      ws.once('open', r);
      ws.once('error', j);
    });
    const closed = new Promise((r) => ws.once('close', r));
    ws.send(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3])); // announces ~256 MiB
    await closed;
    expect(hub.metrics.get('edgefleet_rejected_messages_total', { reason: 'TOO_LARGE', topic: 'mqtt' })).toBe(before + 1);
  });

  it('refuses an upgrade on any other path and closes it', async () => {
    for (const path of ['/', '/device', '/mqtt/x', '/api/v1/health']) {
      const r = await upgrade(hub.urls.http, path);
      expect(r.status, path).toBe(404);
      expect(JSON.parse(r.body).error.code, path).toBe('NOT_FOUND');
    }
    expect(hub.metrics.get('edgefleet_mqtt_connections_refused_total', { reason: 'upgrade_path' })).toBe(4);
    // /mqtt itself speaks WebSocket only
    const h2c = await upgrade(hub.urls.http, '/mqtt', 'h2c');
    expect(h2c.status).toBe(400);
    expect(JSON.parse(h2c.body).error.code).toBe('BAD_INPUT');
    // the HTTP server still answers
    expect((await get(hub.urls.http, '/device/')).status).toBe(200);
  });
});

describe('the device page options', () => {
  let dir: ReturnType<typeof tempDir> | undefined;
  let hub: Hub | undefined;
  afterEach(async () => {
    await hub?.close();
    dir?.remove();
    hub = dir = undefined;
  });

  it('sends COOP/COEP on every file only with deviceIsolation', async () => {
    dir = tempDir();
    writeBundle(join(dir.path, 'bundle'));
    hub = await startTestHub(join(dir.path, 'hub'), { devicePageDir: join(dir.path, 'bundle'), deviceIsolation: true });
    for (const path of ['/device/', '/device/sw.js', '/device/assets/ort-wasm-simd-threaded-9f8e.wasm']) {
      const r = await get(hub.urls.http, path);
      expect(r.headers['cross-origin-opener-policy'], path).toBe('same-origin');
      expect(r.headers['cross-origin-embedder-policy'], path).toBe('require-corp');
    }
  });

  it('answers 503 with how to build when the bundle directory is missing', async () => {
    dir = tempDir();
    hub = await startTestHub(join(dir.path, 'hub'), { devicePageDir: join(dir.path, 'not-built') });
    for (const path of ['/device/', '/device/assets/app-1a2b3c.js']) {
      const r = await get(hub.urls.http, path);
      expect(r.status, path).toBe(503);
      expect(r.headers['content-type']).toContain('text/html');
      expect(r.body.toString()).toContain('npm run build');
    }
    // the API and dashboard are unaffected
    expect((await get(hub.urls.http, '/')).status).toBe(200);
  });

  it('offers wss:// on /mqtt behind an HTTPS public URL', async () => {
    dir = tempDir();
    hub = await startTestHub(join(dir.path, 'hub'), { publicUrl: 'https://fleet.example.com' });
    const added = await apiClient(hub.urls.http, hub.adminToken).post('/devices', { id: 'web-2' });
    expect(added.body.agentConfig.brokers.ws).toBe('wss://fleet.example.com/mqtt');
  });
});

describe.skipIf(!existsSync(MOSQUITTO))('/mqtt with an external broker (--broker)', () => {
  let dir: ReturnType<typeof tempDir>;
  let broker: MosquittoProcess;
  let hub: Hub;
  beforeAll(async () => {
    dir = tempDir();
    broker = await startMosquitto(dir.path, 'hub-secret-for-tests-only');
    hub = await startHub({ dataDir: join(dir.path, 'hub'), http: '127.0.0.1:0', broker: broker.hubUrl });
  });
  afterAll(async () => {
    await hub?.close();
    await broker?.stop();
    dir?.remove();
  });

  it('refuses the upgrade: there is no broker in the hub to hand it to', async () => {
    const r = await upgrade(hub.urls.http, '/mqtt');
    expect(r.status).toBe(404);
    expect(JSON.parse(r.body).error.message).toContain('--broker');
    expect(hub.metrics.get('edgefleet_mqtt_connections_refused_total', { reason: 'upgrade_external_broker' })).toBe(1);
    // agent configs keep the external broker's URL
    const added = await apiClient(hub.urls.http, hub.adminToken).post('/devices', { id: 'web-3' });
    expect(added.body.agentConfig.brokers.ws).toBeUndefined();
  });
});
