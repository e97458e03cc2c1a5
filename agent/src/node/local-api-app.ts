// The local OIP API's HTTP mapping as a hono app (design §5): Host/Origin → Content-Type → size cap → JSON →
// zod → request caps → InferenceService; errors become `{ error, code }` once, in onError. Loaded by
// local-api.ts on the API's first request, not at start: hono, @hono/node-server and the undici classes
// behind its Request/Response cost an idle agent ~4 MB (bench/README "agent.rss_mb").

import type { IncomingMessage } from 'node:http';
import { Hono, type Context } from 'hono';
import type { HttpBindings } from '@hono/node-server';
import * as z from 'zod';
import { EdgefleetError, HTTP_STATUS, OipExplainRequest, OipInferRequest, elementCount, toEdgefleetError, type ErrorCode } from '@edgefleet/protocol';
import type { InferenceService, ModelMetadata } from '../core/inference-service.js';

/** Per-request caps (design §5): a request over one is refused before any tensor is allocated. */
export interface LocalApiLimits {
  /** Largest request body; larger ones get 413 TOO_LARGE, counted while streaming, never buffered whole. */
  maxBodyBytes?: number;
  /** Most tensor elements in one request, summed over its inputs' declared shapes (413 TOO_LARGE). */
  maxElements?: number;
  /** Most rows in one request: the size of an input's leading dim where the model leaves it variable (413 TOO_LARGE). */
  maxRows?: number;
}

/** 4 MiB of JSON is ~1M float32 values written with 4 significant digits. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
/** 1 Mi elements: 4 MiB as float32 once decoded. */
export const DEFAULT_MAX_ELEMENTS = 1024 * 1024;
/**
 * Rows bound what onnxruntime allocates for activations, which input elements do not: [batch, 3] into a
 * 4096-wide layer is 16 KiB a row, and onnxruntime's arena keeps its peak after the request.
 */
export const DEFAULT_MAX_ROWS = 4096;

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

function errorResponse(c: Context<Env>, code: ErrorCode, message: string, status = HTTP_STATUS[code]): Response {
  // don't keep a socket whose body we refused to read
  if (code === 'TOO_LARGE' || code === 'FORBIDDEN' || status === 415) c.header('Connection', 'close');
  return c.json({ error: message, code }, status as 400); // hono wants a status literal; the table holds only contentful 4xx/5xx
}

const MEDIA_TYPE_JSON = 'application/json';

/** Refuse what a browser on another origin can send: a foreign Host or Origin, a body that is not JSON. */
function guard(c: Context<Env>, allowed: () => ReadonlySet<string> | null): Response | null {
  const hosts = allowed();
  if (hosts !== null) {
    const host = c.req.header('host')?.toLowerCase();
    if (host === undefined || !hosts.has(host)) {
      return errorResponse(c, 'FORBIDDEN', `host ${JSON.stringify(host ?? '')} is not one this API answers (see the agent's localApi.hosts)`);
    }
    const origin = c.req.header('origin');
    if (origin !== undefined) {
      let originHost: string | null = null;
      try {
        originHost = new URL(origin).host.toLowerCase();
      } catch {
        originHost = null; // 'null' and garbage
      }
      if (originHost === null || !hosts.has(originHost)) {
        return errorResponse(c, 'FORBIDDEN', `requests from origin ${JSON.stringify(origin)} are not accepted`);
      }
    }
  }
  if (c.req.method === 'POST') {
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== MEDIA_TYPE_JSON) {
      return errorResponse(c, 'BAD_INPUT', `request body must be Content-Type: ${MEDIA_TYPE_JSON}, got ${JSON.stringify(type)}`, 415);
    }
  }
  return null;
}

/** Refuse an inference request over the element or row cap, from its declared shapes alone. */
function checkRequestSize(request: Pick<OipInferRequest, 'inputs'>, meta: ModelMetadata | null, maxElements: number, maxRows: number): void {
  let elements = 0;
  for (const input of request.inputs) {
    elements += Math.max(elementCount(input.shape), input.data.length);
    const spec = meta?.inputs.find((s) => s.name === input.name);
    const rows = input.shape[0];
    if (spec !== undefined && spec.shape[0] === -1 && rows !== undefined && rows > maxRows) {
      throw new EdgefleetError('TOO_LARGE', `input '${input.name}' has ${rows} rows, over the cap of ${maxRows} per request`);
    }
  }
  if (elements > maxElements) {
    throw new EdgefleetError('TOO_LARGE', `the request holds ${elements} tensor elements, over the cap of ${maxElements}`);
  }
}

function notFound(name: string, version: string | undefined): EdgefleetError {
  return new EdgefleetError(
    'NOT_FOUND',
    version === undefined ? `model '${name}' not found` : `model '${name}' version '${version}' not found`,
  );
}

export interface LocalApiAppOptions extends LocalApiLimits {
  /** Host header values answered (see allowedHostSet); null answers any (an app embedded behind its own front). */
  allowedHosts: () => ReadonlySet<string> | null;
}

/** The hono app alone (no listening socket), for embedding or tests. */
export function createLocalApiApp(service: InferenceService, options: LocalApiAppOptions): Hono<Env> {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxElements = options.maxElements ?? DEFAULT_MAX_ELEMENTS;
  const maxRows = options.maxRows ?? DEFAULT_MAX_ROWS;
  const app = new Hono<Env>();

  // before any route, any body byte read (design §5)
  app.use('*', async (c, next) => {
    const refused = guard(c, options.allowedHosts);
    if (refused !== null) return refused;
    await next();
  });

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
    checkRequestSize(parsed.data, service.modelMetadata(name, version), maxElements, maxRows);
    return c.json(await service.infer(name, parsed.data, version));
  };

  app.get('/v2/models/:name', metadata);
  app.get('/v2/models/:name/versions/:version', metadata);
  app.get('/v2/models/:name/ready', ready);
  app.get('/v2/models/:name/versions/:version/ready', ready);
  app.post('/v2/models/:name/infer', infer);
  app.post('/v2/models/:name/versions/:version/infer', infer);

  // ours beyond OIP (design §5): Shapley attributions of one prediction, an infer request whose parameters
  // say what to explain; the evaluations it costs are capped in the core (EXPLAIN_LIMITS)
  const explain = async (c: Context<Env>): Promise<Response> => {
    const name = c.req.param('name')!;
    const version = c.req.param('version');
    const body = await readJson(c, maxBodyBytes);
    const parsed = OipExplainRequest.safeParse(body);
    if (!parsed.success) throw new EdgefleetError('BAD_INPUT', `invalid explain request: ${issueMessage(parsed.error)}`);
    checkRequestSize(parsed.data, service.modelMetadata(name, version), maxElements, maxRows);
    return c.json(await service.explain(name, parsed.data, version));
  };
  app.post('/v2/models/:name/explain', explain);
  app.post('/v2/models/:name/versions/:version/explain', explain);

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

