// The /device routes: the page shell and service worker at fixed URLs, revalidated on every load
// (no-cache + ETag, 304 while it holds); the content-hashed bundle under /device/assets/ cached for a
// year (immutable). Every answer carries the page's CSP and nosniff; COOP/COEP (cross-origin isolation,
// which onnxruntime-web's threads need) only when the hub is started with `--device-isolation`.

import type { Context, Hono } from 'hono';
import { fileURLToPath } from 'node:url';
import { createBundleFiles, pickEncoding, safeRelativePath } from './files.js';

/**
 * Where `npm run build` writes the page: web-runtime/dist/device/ at the repository root, found from the
 * hub package (hub/src/device-page/ under vitest's aliases, hub/dist/device-page/ when built).
 */
export const DEFAULT_DEVICE_PAGE_DIR = fileURLToPath(new URL('../../../web-runtime/dist/device/', import.meta.url));

export interface DevicePageOptions {
  /** The built page (default DEFAULT_DEVICE_PAGE_DIR). */
  dir?: string;
  /** Send COOP/COEP so the page is cross-origin isolated (SharedArrayBuffer: ort-web threads). Off by default. */
  isolation?: boolean;
}

export const DEVICE_PREFIX = '/device';
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** A Host header as it may appear in a CSP source (no spaces, quotes or `;` that would add directives). */
const HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/** The page's CSP: its own scripts and wasm (`'wasm-unsafe-eval'`), its workers, MQTT over ws(s) to this origin. */
export function devicePageCsp(host: string | undefined): string {
  const ws = host && HOST.test(host) ? ` ws://${host} wss://${host}` : '';
  return `default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'${ws}; object-src 'none'; base-uri 'none'; frame-ancestors 'none'`;
}

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edgefleet — device page not built</title></head>
<body><h1>The device page is not built</h1>
<p>This hub serves the browser device page from <code>web-runtime/dist/device/</code>, which does not exist.
Run <code>npm run build</code> in the edgefleet checkout (or start the hub with a built bundle), then reload.</p>
<p>Error code: UNAVAILABLE</p></body></html>
`;

/** Serves the device page at /device (design §1 browser devices; issue 12). */
export function mountDevicePage(app: Hono<any>, options: DevicePageOptions = {}): void {
  const files = createBundleFiles(options.dir ?? DEFAULT_DEVICE_PAGE_DIR);
  const baseHeaders = (c: Context): Record<string, string> => ({
    'content-security-policy': devicePageCsp(c.req.header('host')),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    ...(options.isolation ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } : {}),
  });

  const handler = async (c: Context) => {
    const headers = baseHeaders(c);
    const base = files.root();
    if (!base) return c.html(NOT_BUILT, 503, { ...headers, 'cache-control': 'no-store' });
    const pathname = new URL(c.req.url).pathname;
    const tail = pathname.slice(DEVICE_PREFIX.length + 1);
    const rel = safeRelativePath(tail);
    const file = rel === null ? null : files.get(base, rel);
    if (!file || rel === null) {
      return c.json({ error: { code: 'NOT_FOUND', message: `no file ${pathname} in the device page` } }, 404, { ...headers, 'cache-control': 'no-store' });
    }
    const immutable = rel.startsWith('assets/');
    Object.assign(headers, {
      'content-type': file.type,
      etag: file.etag,
      'cache-control': immutable ? IMMUTABLE : 'no-cache',
      vary: 'accept-encoding',
      ...(rel === 'sw.js' ? { 'service-worker-allowed': `${DEVICE_PREFIX}/` } : {}),
    });
    if (c.req.header('if-none-match') === file.etag) return c.body(null, 304, headers);
    const encoding = pickEncoding(c.req.header('accept-encoding'));
    const encoded = encoding ? await file.encoded(encoding) : null;
    if (encoded && encoding) headers['content-encoding'] = encoding;
    const body = encoded ?? file.body;
    return c.body(new Uint8Array(body.buffer as ArrayBuffer, body.byteOffset, body.byteLength), 200, headers);
  };
  // the Service Worker's scope is /device/: a page opened at /device would be outside it and not open offline
  app.get(DEVICE_PREFIX, (c) => {
    const { search } = new URL(c.req.url);
    return c.redirect(`${DEVICE_PREFIX}/${search}`, 308);
  });
  app.get(`${DEVICE_PREFIX}/*`, handler);
}
