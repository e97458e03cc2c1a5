// The agent's local inference API: Open Inference Protocol v2 REST (design §5) on a node:http server bound
// at start. The HTTP mapping (local-api-app.ts: hono over @hono/node-server) is imported on the first
// request, so an agent whose API nobody calls does not hold hono, the node-server adapter and the undici
// classes it pulls in (bench/README "agent.rss_mb").

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { InferenceService } from '../core/inference-service.js';
import type { LocalApiLimits } from './local-api-app.js';

export type { LocalApiLimits } from './local-api-app.js';

export interface LocalApiOptions extends LocalApiLimits {
  /** Loopback by default (design §5): the API has no authentication. */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /**
   * Host header values accepted besides the bind address and the loopback names (`localhost`, `127.0.0.1`,
   * `[::1]`), each at the API's port: `name` (at the API's port) or `name:port` (behind a port mapping).
   */
  allowedHosts?: readonly string[];
}

export interface LocalApi {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** `Host`-header form of an address: a bare IPv6 literal (two colons or more) in brackets, lower case. */
function hostForm(host: string): string {
  const h = host.toLowerCase();
  return /:.*:/.test(h) && !h.startsWith('[') ? `[${h}]` : h;
}

/**
 * The Host header values the API answers (design §5): its bind address, the loopback names and the
 * configured extra names, at its port. A page on another origin reaching 127.0.0.1 through DNS
 * rebinding still sends its own name as Host, so it is refused.
 */
export function allowedHostSet(bindHost: string, port: number, extra: readonly string[] = []): ReadonlySet<string> {
  const out = new Set<string>();
  const add = (name: string): void => {
    const h = hostForm(name);
    if (/^(\[[^\]]*\]|[^:]*):\d+$/.test(h)) {
      out.add(h); // explicit name:port
      return;
    }
    out.add(`${h}:${port}`);
    if (port === 80) out.add(h); // a client may leave out the default port
  };
  for (const name of [bindHost, 'localhost', '127.0.0.1', '::1', ...extra]) add(name);
  return out;
}

type Listener = (req: IncomingMessage, res: ServerResponse) => unknown;

/** Serve the local API; resolves once listening. The hono app is built on the first request. */
export function startLocalApi(service: InferenceService, options: LocalApiOptions = {}): Promise<LocalApi> {
  const host = options.host ?? '127.0.0.1';
  let hosts: ReadonlySet<string> = new Set(); // nothing is answered before the port is known
  let listener: Listener | null = null;
  let loading: Promise<Listener> | null = null;
  const load = (): Promise<Listener> =>
    (loading ??= Promise.all([import('./local-api-app.js'), import('@hono/node-server')]).then(([{ createLocalApiApp }, { getRequestListener }]) => {
      const app = createLocalApiApp(service, {
        ...(options.maxBodyBytes !== undefined ? { maxBodyBytes: options.maxBodyBytes } : {}),
        ...(options.maxElements !== undefined ? { maxElements: options.maxElements } : {}),
        ...(options.maxRows !== undefined ? { maxRows: options.maxRows } : {}),
        allowedHosts: () => hosts,
      });
      return (listener = getRequestListener(app.fetch, { hostname: host }));
    }));
  const server = createServer((req, res) => {
    if (listener !== null) {
      listener(req, res);
      return;
    }
    load().then(
      (l) => l(req, res),
      (err: unknown) => {
        loading = null; // a later request tries again
        res.writeHead(500, { 'content-type': 'application/json', connection: 'close' });
        res.end(JSON.stringify({ error: `local API unavailable: ${err instanceof Error ? err.message : String(err)}`, code: 'INTERNAL' }));
      },
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      const info = server.address() as AddressInfo;
      hosts = allowedHostSet(host, info.port, options.allowedHosts);
      const urlHost = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      resolve({
        url: `http://${urlHost}:${info.port}`,
        port: info.port,
        close: () =>
          new Promise<void>((done, fail) => {
            server.close((err) => (err ? fail(err) : done()));
            // keep-alive sockets would hold close() open until they time out
            server.closeAllConnections();
          }),
      });
    });
  });
}
