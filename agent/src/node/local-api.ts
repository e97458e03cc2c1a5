// The agent's local inference API: Open Inference Protocol v2 REST over hono + @hono/node-server (design §5).
// It only maps HTTP: size cap → JSON → zod → InferenceService; errors become `{ error, code }` once, in onError.

import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Hono, type Context } from 'hono';
import { serve, type HttpBindings } from '@hono/node-server';
import { z } from 'zod';
import { EdgefleetError, HTTP_STATUS, toEdgefleetError, type ErrorCode } from '@edgefleet/protocol';
import type { InferenceService } from '../core/inference-service.js';
import { OipInferRequest } from '../core/tensor.js';

export interface LocalApiOptions {
  /** Loopback by default (design §5): the API has no authentication. */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Largest request body accepted; larger ones get 413 TOO_LARGE without being buffered. */
  maxBodyBytes?: number;
}

export interface LocalApi {
  url: string;
  port: number;
  close(): Promise<void>;
}

export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

const FeedbackBody = z.object({
  id: z.string().min(1).max(256),
  label: z.union([z.string().max(256), z.number()]),
});

type Env = { Bindings: Partial<HttpBindings> };

function issueMessage(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'invalid request';
  const path = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  return `${path}${issue.message}`;
}

/** Collect the body from the Node request, stopping as soon as it passes `max` bytes. */
function readIncoming(incoming: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (): void => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onError);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > max) {
        done();
        incoming.pause(); // the node-server drains and closes the rest after our 413 is sent
        reject(new EdgefleetError('TOO_LARGE', `request body exceeds ${max} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      done();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => {
      done();
      reject(new EdgefleetError('BAD_INPUT', `request body could not be read: ${err.message}`, { cause: err }));
    };
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onError);
  });
}

/** Same, from a fetch Request (when not served by node-server). */
async function readStream(request: Request, max: number): Promise<Uint8Array> {
  const body = request.body;
  if (body === null) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      throw new EdgefleetError('TOO_LARGE', `request body exceeds ${max} bytes`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Untrusted body: size cap (Content-Length first, then counted bytes) → JSON parse (design §3 order). */
async function readJson(c: Context<Env>, max: number): Promise<unknown> {
  const declared = c.req.header('content-length');
  if (declared !== undefined && Number(declared) > max) {
    throw new EdgefleetError('TOO_LARGE', `request body of ${declared} bytes exceeds ${max} bytes`);
  }
  const incoming = c.env?.incoming;
  const bytes = incoming !== undefined ? await readIncoming(incoming, max) : await readStream(c.req.raw, max);
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch (err) {
    throw new EdgefleetError('BAD_JSON', 'request body is not valid UTF-8', { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new EdgefleetError('BAD_JSON', `request body is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

function errorResponse(c: Context<Env>, code: ErrorCode, message: string): Response {
  const status = HTTP_STATUS[code] as 400; // hono wants a status literal; the table holds only contentful 4xx/5xx
  if (code === 'TOO_LARGE') c.header('Connection', 'close'); // don't keep a socket whose body we refused to read
  return c.json({ error: message, code }, status);
}

function notFound(name: string, version: string | undefined): EdgefleetError {
  return new EdgefleetError(
    'NOT_FOUND',
    version === undefined ? `model '${name}' not found` : `model '${name}' version '${version}' not found`,
  );
}

/** The hono app alone (no listening socket), for embedding or tests. */
export function createLocalApiApp(service: InferenceService, options: { maxBodyBytes?: number } = {}): Hono<Env> {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const app = new Hono<Env>();

  // OIP "Server Metadata" / "Health" (inference_rest.md): 200 means true.
  app.get('/v2', (c) => c.json(service.serverMetadata()));
  app.get('/v2/health/live', (c) => {
    const live = service.isLive();
    return c.json({ live }, live ? 200 : 503);
  });
  app.get('/v2/health/ready', (c) => {
    const ready = service.isReady();
    return c.json({ ready }, ready ? 200 : 503);
  });
  app.get('/v2/models', (c) => c.json({ models: service.listModels() }));

  const metadata = (c: Context<Env>): Response => {
    const name = c.req.param('name')!;
    const version = c.req.param('version');
    const meta = service.modelMetadata(name, version);
    if (meta === null) throw notFound(name, version);
    return c.json(meta);
  };
  const ready = (c: Context<Env>): Response => {
    const name = c.req.param('name')!;
    const version = c.req.param('version');
    if (service.modelMetadata(name, version) === null) throw notFound(name, version);
    const isReady = service.isModelReady(name, version);
    return c.json({ name, ...(version !== undefined ? { version } : {}), ready: isReady }, isReady ? 200 : 503);
  };
  const infer = async (c: Context<Env>): Promise<Response> => {
    const name = c.req.param('name')!;
    const version = c.req.param('version');
    const body = await readJson(c, maxBodyBytes);
    const parsed = OipInferRequest.safeParse(body);
    if (!parsed.success) throw new EdgefleetError('BAD_INPUT', `invalid inference request: ${issueMessage(parsed.error)}`);
    return c.json(await service.infer(name, parsed.data, version));
  };

  app.get('/v2/models/:name', metadata);
  app.get('/v2/models/:name/versions/:version', metadata);
  app.get('/v2/models/:name/ready', ready);
  app.get('/v2/models/:name/versions/:version/ready', ready);
  app.post('/v2/models/:name/infer', infer);
  app.post('/v2/models/:name/versions/:version/infer', infer);

  // ours beyond OIP (design §5): ground truth for an earlier prediction, joined by id
  app.post('/v2/models/:name/feedback', async (c) => {
    const name = c.req.param('name');
    const body = await readJson(c, maxBodyBytes);
    const parsed = FeedbackBody.safeParse(body);
    if (!parsed.success) throw new EdgefleetError('BAD_INPUT', `invalid feedback: ${issueMessage(parsed.error)}`);
    await service.feedback(name, parsed.data);
    return c.json({ id: parsed.data.id, accepted: true });
  });

  app.notFound((c) => errorResponse(c, 'NOT_FOUND', `no route ${c.req.method} ${c.req.path}`));
  app.onError((err, c) => {
    const e = toEdgefleetError(err);
    return errorResponse(c, e.code, e.message);
  });
  return app;
}

/** Serve the local API; resolves once listening. */
export function startLocalApi(service: InferenceService, options: LocalApiOptions = {}): Promise<LocalApi> {
  const host = options.host ?? '127.0.0.1';
  const app = createLocalApiApp(service, options.maxBodyBytes !== undefined ? { maxBodyBytes: options.maxBodyBytes } : {});
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: host, port: options.port ?? 0 }, (info: AddressInfo) => {
      server.off('error', reject);
      const urlHost = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      resolve({
        url: `http://${urlHost}:${info.port}`,
        port: info.port,
        close: () =>
          new Promise<void>((done, fail) => {
            server.close((err) => (err ? fail(err) : done()));
            // keep-alive sockets would hold close() open until they time out
            (server as { closeAllConnections?: () => void }).closeAllConnections?.();
          }),
      });
    });
    server.once('error', reject);
  });
}
