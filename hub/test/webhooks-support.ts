// Webhook and audit test resources: a real local HTTP receiver on port 0 that records raw bodies and headers and
// answers with scripted statuses, an independent HMAC check (not the hub's own helper), and the CLI as a child.

import { spawn } from 'node:child_process';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  raw: Buffer;
  body: { id: string; event: string; at: string; hub: string; payload: Record<string, any> };
}

export interface Receiver {
  url: string;
  received: Received[];
  /** Statuses for the next requests, in order; afterwards every request gets `fallback`. */
  script(statuses: number[], fallback?: number): void;
  /** Resolves once `n` requests (optionally of one event) have arrived; rejects after `ms`. */
  waitFor(n: number, event?: string, ms?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  let statuses: number[] = [];
  let fallback = 200;
  let waiters: Array<() => void> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      received.push({ path: req.url ?? '', headers: req.headers, raw, body: JSON.parse(raw.toString('utf8')) });
      res.writeHead(statuses.shift() ?? fallback, { 'content-type': 'text/plain' });
      res.end('ok');
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  const matching = (event?: string) => received.filter((r) => !event || r.body.event === event);
  return {
    url,
    received,
    script(s, fb = 200) {
      statuses = [...s];
      fallback = fb;
    },
    waitFor(n, event, ms = 10_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`receiver: ${matching(event).length}/${n} ${event ?? ''} requests after ${ms} ms`)), ms);
        const check = () => {
          if (matching(event).length >= n) {
            clearTimeout(timer);
            resolve(matching(event));
          } else waiters.push(check);
        };
        check();
      });
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** The receiver side of design §7's signature: HMAC-SHA256 of the raw body, hex, `sha256=` prefix. */
export function signatureValid(secret: string, raw: Buffer, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string') return false;
  const expected = Buffer.from('sha256=' + createHmac('sha256', secret).update(raw).digest('hex'));
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

// child processes run the built bin (vitest.config.ts: bins use dist/); tsx from source when not built
const BIN = fileURLToPath(new URL('../bin/edgefleet.js', import.meta.url));
const BUILT = existsSync(fileURLToPath(new URL('../dist/cli/main.js', import.meta.url)));
const CLI = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The command line that runs `edgefleet ARGS` (built bin, or the source through tsx). */
export function cliArgs(args: string[]): string[] {
  return BUILT ? [BIN, ...args] : ['--import', 'tsx', CLI, ...args];
}

/** Run `edgefleet ARGS` as a child process. */
export function runCli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, cliArgs(args), { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
