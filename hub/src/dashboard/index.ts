// The fleet health dashboard (design §7): a static page and its script and stylesheet, served by
// the hub at `/` with no CDN; all data comes from the same bearer-authenticated /api/v1 as the CLI.
// Imports: hono's types, node:*, ./page.js. The script is the browser client in ./client/, bundled at
// build time; it imports only types (protocol, the rooms' API views), so no hub code runs in the browser.

import type { Hono } from 'hono';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { APP_CSS, INDEX_HTML } from './page.js';

// Where the bundle is: hub/scripts/build-dashboard.mjs writes hub/dist/dashboard/client.js as part of
// `npm run build`, which `npm install` / `npm ci` run (`prepare`). The path is resolved from the hub
// package root, so the built hub (hub/dist/dashboard/index.js) and the source that tests import through
// vitest's aliases (hub/src/dashboard/index.ts) both find it at ../../dist/. vitest's globalSetup runs
// the same build first, so a test never serves a client older than its source.
const CLIENT_JS = fileURLToPath(new URL('../../dist/dashboard/client.js', import.meta.url));

/** The bundled client, or null when it was never built (the hub still serves its API). */
function clientScript(): string | null {
  try {
    return readFileSync(CLIENT_JS, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

// the page runs only its own script: a token in sessionStorage is then out of reach of injected code
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** Serves the dashboard page at `/` and its assets under `/dashboard/`. */
export function mountDashboard(app: Hono<any>): void {
  const script = clientScript();
  const assets: Record<string, { body: string; type: string }> = {
    '/': { body: INDEX_HTML, type: 'text/html; charset=utf-8' },
    '/dashboard/app.js': {
      body: script ?? 'console.error("edgefleet: the dashboard client is not built; run npm run build");\n',
      type: 'text/javascript; charset=utf-8',
    },
    '/dashboard/app.css': { body: APP_CSS, type: 'text/css; charset=utf-8' },
  };
  for (const [path, asset] of Object.entries(assets)) {
    // the same URL across builds: revalidated on every load (no-cache), a 304 while the content hash holds
    const etag = `"${createHash('sha256').update(asset.body).digest('hex').slice(0, 16)}"`;
    app.get(path, (c) => {
      const headers = { ...SECURITY_HEADERS, 'content-type': asset.type, etag, 'cache-control': 'no-cache' };
      if (c.req.header('if-none-match') === etag) return c.body(null, 304, headers);
      return c.body(asset.body, 200, headers);
    });
  }
}
