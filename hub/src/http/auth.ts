// API authentication (design §7): bearer tokens stored as sha256 hashes with roles viewer < operator < admin,
// and device Basic auth (deviceId:token) for artifact downloads.

import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { EdgefleetError } from '@edgefleet/protocol';
import type { Store, Role } from '../store/db.js';

export const ROLES: readonly Role[] = ['viewer', 'operator', 'admin'];
const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export function roleAtLeast(have: Role, need: Role): boolean {
  return RANK[have] >= RANK[need];
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A new API token: `ef_` + 32 random bytes; only its hash is stored. */
export async function createApiToken(store: Store, role: Role, name: string | null, at: string): Promise<{ id: string; token: string; role: Role }> {
  const token = `ef_${randomBytes(32).toString('base64url')}`;
  const id = `t-${randomBytes(5).toString('hex')}`;
  await store.insertToken({ id, hash: tokenHash(token), role, name, createdAt: at });
  return { id, token, role };
}

/**
 * design §2: the admin token is written once to `file` (0600) and stored only hashed. '' when that file
 * was deleted after the first start (tokens exist, none is shown again).
 */
export async function loadOrCreateAdminToken(store: Store, file: string, at: string, log: (line: string) => void): Promise<string> {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  // replicas starting at once on one database: one of them creates the admin token, the others find it
  const token = await store.transaction(async () => {
    await store.serialize('audit');
    if ((await store.tokenCount()) > 0) return '';
    const t = await createApiToken(store, 'admin', 'initial admin', at);
    await store.appendAudit('hub', 'token.create', { id: t.id, role: 'admin' });
    return t.token;
  });
  if (token === '') return '';
  writeFileSync(file, token + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  log(`admin token written to ${file}`);
  return token;
}

export interface Principal {
  kind: 'token' | 'device';
  id: string;
  role: Role | null;
}

/** How a caller is named in the audit log and in what it creates: `token:t-…` or `device:<id>`. */
export const actor = (p: Principal): string => `${p.kind}:${p.id}`;

export async function bearerPrincipal(store: Store, header: string | undefined): Promise<Principal | null> {
  const m = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (!m) return null;
  const row = await store.tokenByHash(tokenHash(m[1]!));
  if (!row) throw new EdgefleetError('UNAUTHORIZED', 'unknown API token');
  return { kind: 'token', id: row.id, role: row.role };
}

export function basicCredentials(header: string | undefined): { user: string; password: string } | null {
  const m = header ? /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header) : null;
  if (!m) return null;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = text.indexOf(':');
  if (i < 0) return null;
  return { user: text.slice(0, i), password: text.slice(i + 1) };
}
