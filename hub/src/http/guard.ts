// The HTTP API's one gate (design §7): every request under /api/v1 is matched against a route → access
// table and authenticated and authorized from its headers alone, before any route or body parser runs.
// Only then is a JSON body read, capped while it streams. Model uploads stream in their route instead
// (models-api.ts). A path the table does not name still needs a valid API token: the gate fails closed.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';
import { EdgefleetError } from '@edgefleet/protocol';
import type { Role, Store } from '../store/db.js';
import type { DeviceRegistry } from '../devices/index.js';
import { basicCredentials, bearerPrincipal, roleAtLeast, type Principal } from './auth.js';

/** `none`: anyone; `device`: device Basic auth or any API token; a role: an API token of at least it. */
export type Access = 'none' | 'device' | Role;
/** `json`: read whole, capped at `JSON_BODY_MAX`; `upload`: the route streams it; `none`: never read. */
export type BodyKind = 'json' | 'upload' | 'none';

export interface GuardRule {
  method: string;
  /** Under /api/v1, hono style (`/devices/:id`). */
  path: string;
  access: Access;
  body?: BodyKind;
  /** A smaller cap than JSON_BODY_MAX for a `json` body (a route anyone may call). */
  bodyMax?: number;
}

export const JSON_BODY_MAX = 1024 * 1024;
/** What a refused client may still send after the answer (discarded) before its connection is closed. */
export const REFUSED_DRAIN_MAX = 4 * 1024 * 1024;
export const API_PREFIX = '/api/v1';

export type GuardEnv = { Variables: { principal: Principal } };

export interface Guard {
  add(rule: GuardRule): void;
  middleware: MiddlewareHandler<GuardEnv>;
}

interface Compiled extends GuardRule {
  re: RegExp;
  params: number;
}

const compile = (r: GuardRule): Compiled => {
  const parts = r.path.split('/').map((s) => (s.startsWith(':') ? '[^/]+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  return { ...r, method: r.method.toUpperCase(), re: new RegExp(`^${parts.join('/')}/?$`), params: (r.path.match(/:/g) ?? []).length };
};

export function createGuard(options: { store: Store; devices: DeviceRegistry }): Guard {
  const { store, devices } = options;
  const rules: Compiled[] = [];

  const match = (method: string, path: string): Compiled | undefined => {
    const m = method === 'HEAD' ? 'GET' : method;
    // a literal segment wins over a parameter (`/webhooks/deliveries` over `/webhooks/:id`)
    let best: Compiled | undefined;
    for (const r of rules) if (r.method === m && r.re.test(path) && (!best || r.params < best.params)) best = r;
    return best;
  };

  const authenticate = async (c: Context, access: Access): Promise<Principal | null> => {
    if (access === 'none') return null;
    const header = c.req.header('authorization');
    if (access === 'device') {
      const basic = basicCredentials(header);
      if (basic) {
        if (!(await devices.checkCredentials(basic.user, basic.password))) throw new EdgefleetError('UNAUTHORIZED', 'bad device credentials');
        return { kind: 'device', id: basic.user, role: null };
      }
    }
    const p = await bearerPrincipal(store, header);
    if (!p) throw new EdgefleetError('UNAUTHORIZED', 'missing bearer token');
    const need: Role = access === 'device' ? 'viewer' : access;
    if (!p.role || !roleAtLeast(p.role, need)) throw new EdgefleetError('FORBIDDEN', `this action needs the ${need} role`);
    return p;
  };

  const middleware: MiddlewareHandler<GuardEnv> = async (c, next) => {
    const path = c.req.path;
    if (path !== API_PREFIX && !path.startsWith(`${API_PREFIX}/`)) return next(); // dashboard, /metrics: GET only, bodies never read
    const rule = match(c.req.method, path.slice(API_PREFIX.length));
    const access: Access = rule?.access ?? 'viewer';
    const principal = await authenticate(c, access);
    if (principal) c.set('principal', principal);
    const body: BodyKind = rule?.body ?? (c.req.method === 'GET' || c.req.method === 'HEAD' ? 'none' : 'json');
    if (body === 'json' && c.req.raw.body) {
      const bytes = await readCapped(c, rule?.bodyMax ?? JSON_BODY_MAX);
      c.req.raw = new Request(c.req.raw, { body: bytes });
    }
    return next();
  };

  return {
    add: (rule) => void rules.push(compile(rule)),
    middleware,
  };
}

/**
 * Who the guard let through, for a route that needs it (an audit actor, what the caller may see): its role
 * was checked against the route table before the route ran. Routes open to anyone (`none`) have no caller.
 */
export function principal(c: Context<GuardEnv>): Principal {
  const p = c.get('principal') as Principal | undefined;
  if (!p) throw new EdgefleetError('UNAUTHORIZED', 'missing bearer token');
  return p;
}

/** A declared content-length over `max`: TOO_LARGE before a byte is read. */
export function checkDeclaredLength(c: Context, max: number): void {
  const declared = c.req.header('content-length');
  if (declared !== undefined && Number(declared) > max) throw new EdgefleetError('TOO_LARGE', `request body of ${declared} bytes is over ${max}`);
}

/** The whole body, refused with TOO_LARGE as soon as more than `max` bytes arrived (a chunked body has no length). */
export async function readCapped(c: Context, max: number): Promise<Uint8Array<ArrayBuffer>> {
  checkDeclaredLength(c, max);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = c.req.raw.body!.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    // stop here: what is still in flight is drained without being kept (node-server), never buffered
    if (size > max) throw new EdgefleetError('TOO_LARGE', `request body over ${max} bytes`);
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}

/**
 * After a refusal of a request whose body was not read to its end: what the client still sends is
 * discarded (node-server drains it) until REFUSED_DRAIN_MAX bytes after the answer went out, then the
 * connection is closed. Closing at once would break the client's write before it reads the answer.
 */
export function boundRefusedBody(c: Context): void {
  const env = c.env as { incoming?: IncomingMessage; outgoing?: ServerResponse } | undefined;
  const incoming = env?.incoming;
  if (!incoming || !env.outgoing || incoming.readableEnded) return;
  env.outgoing.once('finish', () => {
    let discarded = 0;
    const onData = (chunk: Buffer) => {
      discarded += chunk.length;
      if (discarded > REFUSED_DRAIN_MAX) {
        incoming.off('data', onData);
        incoming.socket?.destroy();
      }
    };
    incoming.on('data', onData);
    incoming.once('end', () => incoming.off('data', onData));
  });
}
