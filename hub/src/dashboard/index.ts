// The fleet health dashboard (design §7): a static page and its script and stylesheet, served by
// the hub at `/` with no CDN; all data comes from the same bearer-authenticated /api/v1 as the CLI.

import type { Hono } from 'hono';
import { createHash } from 'node:crypto';
import { APP_CSS, INDEX_HTML } from './page.js';
import { CHARTS_JS } from './client-charts.js';
import { APP_JS } from './client-app.js';

const SCRIPT = `'use strict';\n(function () {\n${CHARTS_JS}\n${APP_JS}\n})();\n`;

const ASSETS: Record<string, { body: string; type: string }> = {
  '/': { body: INDEX_HTML, type: 'text/html; charset=utf-8' },
  '/dashboard/app.js': { body: SCRIPT, type: 'text/javascript; charset=utf-8' },
  '/dashboard/app.css': { body: APP_CSS, type: 'text/css; charset=utf-8' },
};

// the page runs only its own script: a token in sessionStorage is then out of reach of injected code
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** Serves the dashboard page at `/` and its assets under `/dashboard/`. */
export function mountDashboard(app: Hono<any>): void {
  for (const [path, asset] of Object.entries(ASSETS)) {
    const etag = `"${createHash('sha256').update(asset.body).digest('hex').slice(0, 16)}"`;
    app.get(path, (c) => {
      const headers = { ...SECURITY_HEADERS, 'content-type': asset.type, etag, 'cache-control': 'no-cache' };
      if (c.req.header('if-none-match') === etag) return c.body(null, 304, headers);
      return c.body(asset.body, 200, headers);
    });
  }
}
