// Private keys at rest in a shared database (design §8 replicas): sealed with AES-256-GCM under a
// key-encryption key (KEK) the operator gives every replica (`--key-file` / EDGEFLEET_KEY_ENCRYPTION_KEY),
// never stored in the database. Whoever reads the database alone (a backup, a read-only role, an SQL
// injection) gets no signing key. The row's name is the additional authenticated data, so a sealed value
// moved to another row (the director's ciphertext as the release key) fails to open.

import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { EdgefleetError } from '@edgefleet/protocol';

export interface KeyEncryptionKey {
  /** First 16 hex chars of sha256 over a domain prefix and the key: names the KEK in rows and errors, reveals nothing. */
  id: string;
  key: Buffer;
}

/** A sealed secret as stored: `kek` says which KEK sealed it (a wrong KEK is told apart from a tampered row). */
export interface Sealed {
  alg: 'A256GCM';
  kek: string;
  iv: string;
  tag: string;
  data: string;
}

const AAD_PREFIX = 'edgefleet/v1:hub-secret:';

/** A KEK from its text: 32 bytes in base64 (`openssl rand -base64 32`) or hex; `source` names where it came from. */
export function parseKeyEncryptionKey(text: string, source: string): KeyEncryptionKey {
  const t = text.trim();
  const key = /^[0-9a-f]{64}$/i.test(t) ? Buffer.from(t, 'hex') : /^[A-Za-z0-9+/_-]{43}=?$/.test(t) ? Buffer.from(t, t.includes('-') || t.includes('_') ? 'base64url' : 'base64') : null;
  if (!key || key.length !== 32) {
    throw new EdgefleetError('BAD_INPUT', `${source}: a key-encryption key is 32 random bytes in base64 or hex (make one with: openssl rand -base64 32)`);
  }
  return { id: createHash('sha256').update('edgefleet/v1:kek-id:').update(key).digest('hex').slice(0, 16), key };
}

/** The KEK's text from a file (`--key-file`), else `text` (the environment's); undefined when neither is given. */
export function keyEncryptionKeyText(options: { file?: string; text?: string }): string | undefined {
  if (!options.file) return options.text || undefined;
  try {
    return readFileSync(options.file, 'utf8');
  } catch (err) {
    throw new EdgefleetError('BAD_INPUT', `--key-file ${options.file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

export function seal(kek: KeyEncryptionKey, name: string, plaintext: Uint8Array): Sealed {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', kek.key, iv);
  c.setAAD(Buffer.from(AAD_PREFIX + name));
  const data = Buffer.concat([c.update(plaintext), c.final()]);
  return { alg: 'A256GCM', kek: kek.id, iv: iv.toString('base64'), tag: c.getAuthTag().toString('base64'), data: data.toString('base64') };
}

/**
 * Opens what `seal` made for row `name`. A value sealed under another KEK is UNAUTHORIZED (the replica was
 * given the wrong key); one whose tag does not verify was altered (or moved from another row): BAD_SIGNATURE.
 */
export function unseal(kek: KeyEncryptionKey, name: string, sealed: unknown): Uint8Array {
  const s = sealed as Partial<Sealed> | null;
  if (!s || typeof s !== 'object' || s.alg !== 'A256GCM' || typeof s.kek !== 'string' || typeof s.iv !== 'string' || typeof s.tag !== 'string' || typeof s.data !== 'string') {
    throw new EdgefleetError('BAD_MESSAGE', `hub secret "${name}" in the database is not a sealed value (A256GCM)`);
  }
  if (s.kek !== kek.id) {
    throw new EdgefleetError('UNAUTHORIZED', `hub secret "${name}" in the database is sealed with key-encryption key ${s.kek}, this replica was given ${kek.id}: give every replica the same --key-file`);
  }
  try {
    const d = createDecipheriv('aes-256-gcm', kek.key, Buffer.from(s.iv, 'base64'));
    d.setAAD(Buffer.from(AAD_PREFIX + name));
    d.setAuthTag(Buffer.from(s.tag, 'base64'));
    return new Uint8Array(Buffer.concat([d.update(Buffer.from(s.data, 'base64')), d.final()]));
  } catch (err) {
    throw new EdgefleetError('BAD_SIGNATURE', `hub secret "${name}" in the database fails its authentication tag: the row was altered`, { cause: err });
  }
}
