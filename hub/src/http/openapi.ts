// The OpenAPI 3.1 document of the hub API (design §7), request bodies from the zod schemas via z.toJSONSchema.

import { z } from 'zod';

export interface RouteDoc {
  method: 'get' | 'post' | 'patch' | 'delete';
  path: string;
  summary: string;
  role: 'viewer' | 'operator' | 'admin' | 'device' | 'none';
  body?: z.ZodType;
  multipart?: Record<string, string>;
  /** The guard's cap of this route's JSON body, when smaller than its default. */
  bodyMax?: number;
}

const err = (description: string) => ({ description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } });

/** camelCase of method + literal path segments, e.g. `get /devices/:id/desired` → getDevicesDesired; params → `ById`. */
export function operationId(method: string, path: string): string {
  const words = path.split('/').filter(Boolean).map((s) => (s.startsWith(':') ? `by-${s.slice(1)}` : s));
  return [method, ...words.flatMap((w) => w.split(/[-_]/))].map((w, i) => (i === 0 ? w : w.charAt(0).toUpperCase() + w.slice(1))).join('');
}

/** The refusals a route can really give: 400 with a body or parameters, 401/403 unless open, 404 with a path parameter, 413 with a body. */
function errorResponses(r: RouteDoc, hasParams: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (r.body || r.multipart || r.method !== 'get') out['400'] = err('BAD_INPUT / BAD_JSON: the body or query failed validation');
  if (r.role !== 'none') out['401'] = err('UNAUTHORIZED: missing or unknown credentials');
  if (r.role !== 'none' && r.role !== 'viewer') out['403'] = err(`FORBIDDEN: needs the ${r.role === 'device' ? 'device credentials or viewer' : r.role} role`);
  if (hasParams) out['404'] = err('NOT_FOUND');
  if (r.method === 'post' || r.method === 'patch') out['409'] = err('CONFLICT: the state does not allow this');
  if (r.body || r.multipart) out['413'] = err('TOO_LARGE: the body is over its cap');
  return out;
}

export function buildOpenApi(routes: RouteDoc[], version: string): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const params = [...r.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    const op: Record<string, unknown> = {
      operationId: operationId(r.method, r.path),
      tags: [r.path.split('/')[1] ?? 'hub'],
      summary: r.summary,
      ...(params.length ? { parameters: params } : {}),
      ...(r.role === 'none' ? { security: [] } : r.role === 'device' ? { security: [{ deviceBasic: [] }, { bearer: [] }] } : { security: [{ bearer: [] }], 'x-required-role': r.role }),
      responses: {
        '200': { description: 'OK', content: { 'application/json': {} } },
        ...errorResponses(r, params.length > 0),
        default: err('Error'),
      },
    };
    if (r.body) {
      op.requestBody = { required: true, content: { 'application/json': { schema: z.toJSONSchema(r.body, { io: 'input', unrepresentable: 'any' }) } } };
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
    (paths[path] ??= {})[r.method] = op;
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
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } } },
        },
      },
    },
    paths,
  };
}
