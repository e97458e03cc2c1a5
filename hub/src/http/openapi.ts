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

export function buildOpenApi(routes: RouteDoc[], version: string): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const params = [...r.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    const op: Record<string, unknown> = {
      summary: r.summary,
      ...(params.length ? { parameters: params } : {}),
      ...(r.role === 'none' ? { security: [] } : r.role === 'device' ? { security: [{ deviceBasic: [] }] } : { 'x-required-role': r.role }),
      responses: {
        '200': { description: 'OK', content: { 'application/json': {} } },
        default: { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
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
