// How the API refuses (design §7): one onError maps EdgefleetError codes to HTTP status and
// `{ error: { code, message } }`; the body readers below throw the codes it maps (BAD_JSON, BAD_INPUT).

import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { z } from 'zod';
import { describeZodError, EdgefleetError, HTTP_STATUS, isErrorCode } from '@edgefleet/protocol';
import type { HubContext } from '../context.js';
import { boundRefusedBody } from './guard.js';

/** A zod failure as one line (protocol's describeZodError), `body` naming an issue about the whole input. */
export function describe(error: z.ZodError, options: { subject?: string; max?: number } = {}): string {
  return describeZodError(error, { root: options.subject ?? 'body', ...(options.max !== undefined ? { max: options.max } : {}) });
}

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new EdgefleetError('BAD_JSON', 'request body is not valid JSON', { cause: err });
  }
};

/** The JSON body, unchecked (the guard already capped its size); BAD_JSON when it does not parse. */
export async function readJson(c: Context): Promise<unknown> {
  return parseJson(await c.req.text());
}

/** The JSON body checked against `schema`; BAD_INPUT names what is wrong. */
export async function jsonBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  const r = schema.safeParse(await readJson(c));
  if (!r.success) throw new EdgefleetError('BAD_INPUT', describe(r.error));
  return r.data;
}

/** As jsonBody, for a route whose body may be left out: undefined when it is empty or blank. */
export async function optionalJsonBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S> | undefined> {
  const text = await c.req.text();
  if (!text.trim()) return undefined;
  const r = schema.safeParse(parseJson(text));
  if (!r.success) throw new EdgefleetError('BAD_INPUT', describe(r.error));
  return r.data;
}

/** The one mapping of errors to answers; anything not an EdgefleetError is logged and answered INTERNAL. */
export function apiErrorHandler(ctx: Pick<HubContext, 'log' | 'metrics'>): ErrorHandler {
  return (err, c) => {
    let e: EdgefleetError;
    if (err instanceof EdgefleetError) e = err;
    else if (err instanceof HTTPException && err.status === 413) e = new EdgefleetError('TOO_LARGE', 'request body too large');
    else if (err instanceof z.ZodError) e = new EdgefleetError('BAD_INPUT', describe(err));
    else {
      ctx.log(`http ${c.req.method} ${c.req.path}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      e = new EdgefleetError('INTERNAL', 'internal error');
    }
    const status = isErrorCode(e.code) ? HTTP_STATUS[e.code] : 500;
    if (e.code === 'UNAUTHORIZED') c.header('WWW-Authenticate', 'Bearer');
    if (c.req.raw.body) boundRefusedBody(c);
    if (status < 500) ctx.metrics.inc('edgefleet_http_refused_total', { code: e.code });
    return c.json({ error: { code: e.code, message: e.message } }, status as 400);
  };
}

export const notFound: NotFoundHandler = (c) => c.json({ error: { code: 'NOT_FOUND', message: `no route ${c.req.method} ${c.req.path}` } }, 404);
