// One route's declaration (design §7): method, path, role and the zod schemas of its query, body and
// responses. `route()` (api-routes.ts) mounts the handler from it, the guard authorizes from it, the
// handler validates with its schemas and answers through them, and the OpenAPI document (openapi.ts) is
// built from the same objects: what is served and what is documented cannot drift apart.

import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';
import { EdgefleetError } from '@edgefleet/protocol';
import { describe, jsonBody, optionalJsonBody } from './errors.js';
import type { GuardEnv } from './guard.js';

/** A response: its JSON body's schema, or a description with an optional schema and media type (a refusal without one has the Error body unless `noBody`). */
export type ResponseDoc = z.ZodType | { description: string; schema?: z.ZodType; mediaType?: string; noBody?: boolean };

export interface RouteDoc {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Under /api/v1, hono style (`/devices/:id`). */
  path: string;
  summary: string;
  role: 'viewer' | 'operator' | 'admin' | 'device' | 'none';
  /** Path parameters' schemas, by name (a string when not named here). */
  params?: Record<string, z.ZodType>;
  /** The query string: one parameter per key; an array field is a repeated parameter (`?tag=a=1&tag=b=2`). */
  query?: z.ZodObject;
  /** Request headers the route reads, name → description. */
  headers?: Record<string, string>;
  body?: z.ZodType;
  /** The body may be left out (empty). */
  bodyOptional?: boolean;
  multipart?: Record<string, string>;
  /** The guard's cap of this route's JSON body, when smaller than its default. */
  bodyMax?: number;
  /** Statuses the route answers itself: its successes, and refusals beyond the guard's and onError's usual ones. */
  responses: Record<number, ResponseDoc>;
}

export const responseSchema = (r: ResponseDoc | undefined): z.ZodType | undefined => (r instanceof z.ZodType ? r : r?.schema);

type SchemaOf<R> = R extends z.ZodType ? R : R extends { schema: infer S extends z.ZodType } ? S : never;
type JsonStatus<D extends RouteDoc> = { [K in keyof D['responses']]: [SchemaOf<D['responses'][K]>] extends [never] ? never : K }[keyof D['responses']] & number;
type QueryOf<D extends RouteDoc> = D['query'] extends z.ZodObject ? z.output<D['query']> : Record<string, never>;
type BodyOf<D extends RouteDoc> = D['body'] extends z.ZodType ? (D['bodyOptional'] extends true ? z.output<D['body']> | undefined : z.output<D['body']>) : undefined;

/** What a handler gets from its declaration: the parsed query and body, and a reply typed by the response schema. */
export interface RouteIo<D extends RouteDoc> {
  /** The query string parsed with `query`; BAD_INPUT naming each bad parameter. Empty values count as absent. */
  query(): QueryOf<D>;
  /** The JSON body parsed with `body` (undefined for an empty optional one); BAD_JSON / BAD_INPUT. */
  body(): Promise<BodyOf<D>>;
  /** A JSON answer whose body the compiler checks against the documented schema of that status. */
  json<S extends JsonStatus<D>>(status: S, body: z.output<SchemaOf<D['responses'][S]>>): Response;
}

const isArrayField = (s: z.ZodType): boolean => {
  let t: z.ZodType = s;
  while (t instanceof z.ZodOptional || t instanceof z.ZodDefault) t = t.unwrap() as z.ZodType;
  return t instanceof z.ZodArray;
};

/** The raw query as the schema reads it: repeated values for array fields, one value otherwise, empties left out. */
export function rawQuery(c: Context, schema: z.ZodObject): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [key, field] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
    if (isArrayField(field)) {
      const values = (c.req.queries(key) ?? []).filter((v) => v !== '');
      if (values.length) out[key] = values;
    } else {
      const v = c.req.query(key);
      if (v !== undefined && v !== '') out[key] = v;
    }
  }
  return out;
}

export function routeIo<D extends RouteDoc>(d: D, c: Context<GuardEnv>): RouteIo<D> {
  return {
    query() {
      if (!d.query) return {} as QueryOf<D>;
      const r = d.query.safeParse(rawQuery(c, d.query));
      if (!r.success) throw new EdgefleetError('BAD_INPUT', describe(r.error, { subject: 'query', max: Infinity }));
      return r.data as QueryOf<D>;
    },
    async body() {
      if (!d.body) return undefined as BodyOf<D>;
      return (d.bodyOptional ? await optionalJsonBody(c, d.body) : await jsonBody(c, d.body)) as BodyOf<D>;
    },
    json(status, body) {
      return c.json(body as object, status as ContentfulStatusCode);
    },
  };
}
