// /artifacts/:sha256 (design §8): artifact bytes with HTTP range requests, to a device (Basic auth) only
// for artifacts in its current desired state, or to any API token.

import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { EdgefleetError, Sha256Hex } from '@edgefleet/protocol';
import { principal } from '../guard.js';
import { apiRoutes, type ApiDeps, type ApiRoutes } from '../api-routes.js';
import { Bytes } from '../schemas.js';

function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | 'unsatisfiable' {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null; // multi-range or malformed: serve the whole file (RFC 9110 §14.2)
  let start: number;
  let end: number;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return 'unsatisfiable';
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}

export function artifactRoutes(deps: Pick<ApiDeps, 'desiredStates' | 'artifacts'>): ApiRoutes {
  const { desiredStates, artifacts } = deps;
  const { app, docs, route } = apiRoutes();

  route(
    {
      method: 'get',
      path: '/artifacts/:sha256',
      params: { sha256: Sha256Hex },
      summary: 'Artifact bytes, with Range support (RFC 9110 §14)',
      role: 'device',
      headers: { range: 'bytes=start-end, bytes=start- or bytes=-suffix (one range; others get the whole file)' },
      responses: {
        200: { description: 'The whole artifact', schema: Bytes, mediaType: 'application/octet-stream' },
        206: { description: 'The requested byte range (Content-Range)', schema: Bytes, mediaType: 'application/octet-stream' },
        416: { description: 'Range not satisfiable (Content-Range: bytes */size)', noBody: true },
      },
    },
    async (c) => {
      const sha = c.req.param('sha256');
      const p = principal(c); // the guard checked the device's credentials or the token
      // the same rule as over MQTT (design §4): only artifacts in this device's current desired state
      if (p.kind === 'device' && !(await desiredStates.mayFetch(p.id, sha))) {
        throw new EdgefleetError('FORBIDDEN', `artifact ${sha} is not in device ${p.id}'s desired state`);
      }
      if (!/^[0-9a-f]{64}$/.test(sha) || !artifacts.has(sha)) throw new EdgefleetError('NOT_FOUND', `artifact ${sha} not found`);
      const size = artifacts.size(sha);
      const range = parseRange(c.req.header('range'), size);
      const headers: Record<string, string> = {
        'accept-ranges': 'bytes',
        'content-type': 'application/octet-stream',
        etag: `"${sha}"`,
        'cache-control': 'public, max-age=31536000, immutable',
      };
      if (range === 'unsatisfiable') {
        return c.body(null, 416, { ...headers, 'content-range': `bytes */${size}` });
      }
      const start = range?.start ?? 0;
      const end = range?.end ?? size - 1;
      const stream = Readable.toWeb(createReadStream(artifacts.path(sha), { start, end })) as ReadableStream;
      headers['content-length'] = String(end - start + 1);
      if (range) headers['content-range'] = `bytes ${start}-${end}/${size}`;
      return c.body(stream, range ? 206 : 200, headers);
    },
  );

  return { app, docs };
}
