// The bundle's files as the page server reads them: a request path turned into a file strictly inside the
// bundle directory (no `..`, no absolute path, no symlink out), read once and compressed once per content
// (a file's stat is checked on every request, so a rebuild while the hub runs is picked up).

import { createHash } from 'node:crypto';
import { realpathSync, statSync, readFileSync } from 'node:fs';
import { extname, join, sep } from 'node:path';
import { promisify } from 'node:util';
import { brotliCompress, constants as zlibConstants, gzip } from 'node:zlib';

const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);

export const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};
// already compressed formats gain nothing
const INCOMPRESSIBLE = new Set(['.png', '.ico']);
/** Below this a compressed body saves less than its headers cost. */
const MIN_COMPRESS = 512;
/** One path segment of a bundle file: no separators, no dot-only names, nothing to escape. */
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

export type Encoding = 'br' | 'gzip';

export interface BundleFile {
  body: Buffer;
  type: string;
  etag: string;
  /** The compressed body for an encoding, made on first use and kept (null: not worth compressing). */
  encoded(encoding: Encoding): Promise<Buffer | null>;
}

/** `a/b.js` from the part of a URL path after /device/, or null when a segment is not a plain file name. */
export function safeRelativePath(rawTail: string): string | null {
  if (rawTail === '') return 'index.html';
  const parts: string[] = [];
  for (const raw of rawTail.split('/')) {
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      return null;
    }
    if (!SEGMENT.test(seg)) return null;
    parts.push(seg);
  }
  return parts.length > 3 ? null : parts.join('/');
}

interface Cached extends BundleFile {
  mtimeMs: number;
  size: number;
}

export function createBundleFiles(dir: string) {
  const cache = new Map<string, Cached>();

  /** The bundle directory's real path, or null when it does not exist (not built). */
  const root = (): string | null => {
    try {
      const real = realpathSync(dir);
      return statSync(real).isDirectory() ? real : null;
    } catch {
      return null;
    }
  };

  /** The file at `rel` inside the bundle, or null (missing, a directory, or a symlink leading out). */
  const get = (base: string, rel: string): BundleFile | null => {
    let real: string;
    try {
      real = realpathSync(join(base, rel));
    } catch {
      return null;
    }
    if (!real.startsWith(base + sep)) return null;
    let st;
    try {
      st = statSync(real);
    } catch {
      return null;
    }
    if (!st.isFile()) return null;
    const hit = cache.get(real);
    if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit;
    const body = readFileSync(real);
    const ext = extname(real).toLowerCase();
    const compressible = !INCOMPRESSIBLE.has(ext) && body.length >= MIN_COMPRESS;
    const made = new Map<Encoding, Promise<Buffer | null>>();
    const file: Cached = {
      body,
      type: CONTENT_TYPES[ext] ?? 'application/octet-stream',
      etag: `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"`,
      mtimeMs: st.mtimeMs,
      size: st.size,
      encoded(encoding) {
        if (!compressible) return Promise.resolve(null);
        let p = made.get(encoding);
        if (!p) {
          // in zlib's thread pool, once per content; brotli at a middle quality: most of its gain at a
          // fraction of quality 11's time (the ort wasm is ~14 MB)
          p = (encoding === 'gzip'
            ? gzipAsync(body, { level: 9 })
            : brotliAsync(body, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 5, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: body.length } })
          ).then((out) => (out.length < body.length ? out : null));
          made.set(encoding, p);
        }
        return p;
      },
    };
    cache.set(real, file);
    return file;
  };

  return { root, get };
}

/** The best encoding the client accepts (br over gzip), from Accept-Encoding; q=0 refuses one. */
export function pickEncoding(header: string | undefined): Encoding | null {
  if (!header) return null;
  const accepted = new Set<string>();
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q && Number(q.slice(2)) === 0) continue;
    if (name) accepted.add(name.trim());
  }
  if (accepted.has('br')) return 'br';
  if (accepted.has('gzip') || accepted.has('*')) return 'gzip';
  return null;
}
