// The CLI's HTTP client of the hub API (design §2, §7): JSON requests, and a streamed multipart upload
// that reads the hub's answer even when it arrives before the body is sent (a refused push is answered
// at once and the connection closed; fetch would only report the broken pipe).

import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { EdgefleetError, isErrorCode } from '@edgefleet/protocol';
import type { Values } from './args.js';

export interface Client {
  base: string;
  token: string;
  /** One API call; `T` is the route's answer (api-types.ts), `body` its JSON request. */
  request<T>(method: string, path: string, body?: object): Promise<T>;
  /** One API call answered with a body that is not JSON (a dataset export): its text and headers; refusals as `request`. */
  requestText(method: string, path: string, body?: object): Promise<{ text: string; headers: Headers }>;
  /** POST a body streamed from `chunks`, of `length` bytes; `onSent` follows the bytes written. */
  upload<T>(path: string, contentType: string, length: number, chunks: AsyncIterable<Uint8Array>, onSent?: (bytes: number) => void): Promise<T>;
}

function readTokenFile(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

const unreachable = (base: string, err: unknown) =>
  new EdgefleetError('UNAVAILABLE', `cannot reach the hub at ${base} (${(err as { cause?: { code?: string }; code?: string }).cause?.code ?? (err as { code?: string }).code ?? String(err)})`, { cause: err });

export function createClient(v: Values): Client {
  const base = (v.hub ?? process.env.EDGEFLEET_HUB ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  const token = v.token ?? process.env.EDGEFLEET_TOKEN ?? readTokenFile(join(v.data ?? './edgefleet-data', 'admin-token')) ?? '';
  const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  return {
    base,
    token,
    async request(method, path, body) {
      const headers: Record<string, string> = { ...auth };
      let payload: string | undefined;
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        payload = JSON.stringify(body);
      }
      let res: Response;
      try {
        res = await fetch(`${base}/api/v1${path}`, { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
      } catch (err) {
        throw unreachable(base, err);
      }
      return answer(res.status, await res.text());
    },
    async requestText(method, path, body) {
      let res: Response;
      try {
        res = await fetch(`${base}/api/v1${path}`, { method, headers: { ...auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
      } catch (err) {
        throw unreachable(base, err);
      }
      const text = await res.text();
      if (res.status < 200 || res.status >= 300) answer(res.status, text);
      return { text, headers: res.headers };
    },
    upload(path, contentType, length, chunks, onSent) {
      let url: URL;
      try {
        url = new URL(`${base}/api/v1${path}`);
      } catch (err) {
        throw new EdgefleetError('BAD_INPUT', `--hub must be a URL like http://127.0.0.1:8080, got ${JSON.stringify(base)}`, { cause: err });
      }
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      return new Promise((resolve, reject) => {
        let responded = false;
        const req = send(url, { method: 'POST', headers: { ...auth, 'content-type': contentType, 'content-length': String(length) } });
        req.on('response', (res: IncomingMessage) => {
          responded = true;
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => {
            req.destroy();
            try {
              resolve(answer(res.statusCode ?? 500, text));
            } catch (err) {
              reject(err);
            }
          });
          res.on('error', (err) => reject(unreachable(base, err)));
        });
        // after an early answer the hub closes the connection: the write side breaks, that is expected
        req.on('error', (err) => {
          if (!responded) reject(unreachable(base, err));
        });
        void (async () => {
          let sent = 0;
          for await (const chunk of chunks) {
            if (responded || req.destroyed) return;
            sent += chunk.length;
            if (!req.write(chunk)) await new Promise<void>((r) => {
              const done = () => {
                req.off('drain', done);
                req.off('close', done);
                req.off('response', done);
                r();
              };
              req.on('drain', done);
              req.on('close', done);
              req.on('response', done);
            });
            onSent?.(sent);
          }
          if (!responded && !req.destroyed) req.end();
        })().catch((err: unknown) => {
          req.destroy();
          reject(err instanceof EdgefleetError ? err : new EdgefleetError('NOT_FOUND', `cannot read the upload: ${String(err)}`, { cause: err }));
        });
      });
    },
  };
}

/** A hub answer: the body on success, else the hub's `{ error: { code, message } }` as an EdgefleetError. */
function answer<T>(status: number, text: string): T {
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { text };
  }
  if (status < 200 || status >= 300) {
    const e = (body as { error?: { code?: string; message?: string } }).error;
    const code = isErrorCode(e?.code) ? e.code : status >= 500 ? 'INTERNAL' : 'BAD_INPUT';
    throw new EdgefleetError(code, e?.message ?? `HTTP ${status}`);
  }
  return body as T;
}
