// The OpenAPI 3.1 document of the hub API (design §7), built from the RouteDocs the routes are mounted from:
// parameters, request bodies and response bodies from their zod schemas via z.toJSONSchema (JSON Schema
// 2020-12, which OpenAPI 3.1 schemas are), named schemas under components with $refs between them.

import { z } from 'zod';
import { responseSchema, type ResponseDoc, type RouteDoc } from './route-doc.js';
import { ApiError, COMPONENTS } from './schemas.js';

export type { RouteDoc } from './route-doc.js';

type Json = Record<string, unknown>;
const REF = '#/components/schemas/';
const ref = (id: string) => ({ $ref: `${REF}${id}` });
const err = (description: string) => ({ description, content: { 'application/json': { schema: ref('Error') } } });

/** camelCase of method + literal path segments, e.g. `get /devices/:id/desired` → getDevicesByIdDesired. */
export function operationId(method: string, path: string): string {
  const words = path.split('/').filter(Boolean).map((s) => (s.startsWith(':') ? `by-${s.slice(1)}` : s));
  return [method, ...words.flatMap((w) => w.split(/[-_.]/))].map((w, i) => (i === 0 ? w : w.charAt(0).toUpperCase() + w.slice(1))).join('');
}

/** The refusals the guard and onError give every route of this shape; a route's own (429, 503…) come from its doc. */
function commonRefusals(r: RouteDoc, hasParams: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (r.body || r.multipart || r.query || r.method !== 'get') out['400'] = err('BAD_INPUT / BAD_JSON: the body or query failed validation');
  if (r.role !== 'none') out['401'] = err('UNAUTHORIZED: missing or unknown credentials');
  if (r.role !== 'none' && r.role !== 'viewer') out['403'] = err(`FORBIDDEN: needs the ${r.role === 'device' ? 'device credentials or viewer' : r.role} role`);
  if (hasParams) out['404'] = err('NOT_FOUND');
  if (r.method === 'post' || r.method === 'put' || r.method === 'patch') out['409'] = err('CONFLICT: the state does not allow this');
  if (r.body || r.multipart) out['413'] = err('TOO_LARGE: the body is over its cap');
  return out;
}

/** A zod field as one parameter's schema (its description moves to the parameter). */
function fieldSchema(field: z.ZodType): { schema: Json; description?: string } {
  const { $schema: _, description, ...schema } = z.toJSONSchema(field, { io: 'input', unrepresentable: 'any' }) as Json;
  return { schema, ...(typeof description === 'string' ? { description } : {}) };
}

const pascal = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** Each schema once under components: a COMPONENTS name, else the first operation's name for it. */
function namer(registry: z.core.$ZodRegistry<{ id: string }>) {
  return (schema: z.ZodType, id: string): string => {
    const have = registry.get(schema)?.id;
    if (have) return have;
    registry.add(schema, { id });
    return id;
  };
}

function compile(registry: z.core.$ZodRegistry<{ id: string }>, io: 'input' | 'output'): Record<string, Json> {
  const { schemas } = z.toJSONSchema(registry, { io, unrepresentable: 'any', uri: (id) => `${REF}${id}` });
  return Object.fromEntries(Object.entries(schemas).map(([id, s]) => {
    const { $schema: _, $id: __, ...rest } = s as Json;
    return [id, rest];
  }));
}

export function buildOpenApi(routes: readonly RouteDoc[], version: string): Json {
  const outputs = z.registry<{ id: string }>();
  const inputs = z.registry<{ id: string }>();
  for (const [id, s] of Object.entries(COMPONENTS)) outputs.add(s, { id });
  if (!outputs.has(ApiError)) outputs.add(ApiError, { id: 'Error' });
  const output = namer(outputs);
  const input = namer(inputs);

  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const id = operationId(r.method, r.path);
    const names = [...r.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
    const parameters: Json[] = [
      ...names.map((name) => ({ name, in: 'path', required: true, ...fieldSchema(r.params?.[name] ?? z.string()) })),
      ...Object.entries((r.query?.shape ?? {}) as Record<string, z.ZodType>).map(([name, field]) => ({ name, in: 'query', required: !field.safeParse(undefined).success, ...fieldSchema(field) })),
      ...Object.entries(r.headers ?? {}).map(([name, description]) => ({ name, in: 'header', required: false, description, schema: { type: 'string' } })),
    ];
    const responses: Record<string, unknown> = {};
    let successes = 0;
    for (const [status, doc] of Object.entries(r.responses) as Array<[string, ResponseDoc]>) {
      const schema = responseSchema(doc);
      const described = doc instanceof z.ZodType ? undefined : doc;
      const ok = Number(status) < 400;
      const description = described?.description ?? 'OK';
      if (schema) {
        const name = output(schema, `${pascal(id)}Response${ok && successes++ === 0 ? '' : status}`);
        responses[status] = { description, content: { [described?.mediaType ?? 'application/json']: { schema: ref(name) } } };
      } else if (!ok && !described?.noBody) responses[status] = err(description);
      else responses[status] = { description };
    }
    const op: Json = {
      operationId: id,
      tags: [r.path.split('/')[1]?.replace(/\.json$/, '') ?? 'hub'],
      summary: r.summary,
      ...(parameters.length ? { parameters } : {}),
      ...(r.role === 'none' ? { security: [] } : r.role === 'device' ? { security: [{ deviceBasic: [] }, { bearer: [] }] } : { security: [{ bearer: [] }], 'x-required-role': r.role }),
      responses: { ...responses, ...Object.fromEntries(Object.entries(commonRefusals(r, names.length > 0)).filter(([s]) => !(s in responses))), default: err('Error') },
    };
    if (r.body) {
      op.requestBody = { required: !r.bodyOptional, content: { 'application/json': { schema: ref(input(r.body, `${pascal(id)}Request`)) } } };
    } else if (r.multipart) {
      op.requestBody = {
        required: true,
        content: {
          'multipart/form-data': {
            schema: {
              type: 'object',
              required: ['file', 'name', 'version'],
              properties: Object.fromEntries(
                Object.entries(r.multipart).map(([k, d]) => [k, k === 'file' ? { type: 'string', format: 'binary', description: d } : { type: 'string', description: d }]),
              ),
            },
          },
        },
      };
    }
    (paths[r.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')] ??= {})[r.method] = op;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'edgefleet hub API', version },
    servers: [{ url: '/api/v1' }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer' },
        deviceBasic: { type: 'http', scheme: 'basic', description: 'deviceId:deviceToken' },
      },
      schemas: { ...compile(outputs, 'output'), ...compile(inputs, 'input') },
    },
    paths,
  };
}
