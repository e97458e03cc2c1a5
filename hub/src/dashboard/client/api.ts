// The hub's /api/v1 with the tab's bearer token, from the same origin (CSP connect-src 'self'): JSON in
// and out, the hub's error body `{ error: { code, message } }` thrown as an ApiError.

import type { ErrorCode, WhoAmI } from './api-types.js';
import { session } from './session.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode | `HTTP_${number}`,
    message: string,
  ) {
    super(message);
  }
}

let unauthorized: (message: string) => void = () => {};

/** What to do when the hub refuses the stored token (the shell signs out). */
export function onUnauthorized(handler: (message: string) => void): void {
  unauthorized = handler;
}

/** One request; `token` checks a token at sign-in (a 401 then is the form's answer, not a sign-out). */
export async function api<T>(method: 'GET' | 'POST', path: string, body?: unknown, token?: string): Promise<T> {
  const headers: Record<string, string> = { authorization: 'Bearer ' + (token || session.token) };
  const init: RequestInit = { method, headers, cache: 'no-store' };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch('/api/v1' + path, init);
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const answer = data as { error?: { code: ErrorCode; message: string } } | null;
    const err = answer && answer.error ? answer.error : { code: `HTTP_${res.status}` as const, message: res.statusText };
    if (res.status === 401 && !token) unauthorized('The hub refused your token (' + err.message + '); sign in again.');
    throw new ApiError(res.status, err.code, err.message);
  }
  return data as T;
}

/** Who the stored token is: its role decides which actions the pages offer. */
export async function whoami(): Promise<void> {
  const who = await api<WhoAmI>('GET', '/whoami');
  session.role = who.role;
  session.who = who;
}

/** The status and message of anything a request or a render rejected with. */
export function failure(e: unknown): { status: number | null; message: string } {
  return { status: e instanceof ApiError ? e.status : null, message: e instanceof Error ? e.message : String(e) };
}
