// The hub's keys and shared secrets in the database, for replicas sharing one PostgreSQL database (design §8):
// created once by the first replica to start, read by every replica. Rows (store/secrets.ts):
//   root, release, director  { keyId, publicKey, secret: sealed 64-byte Ed25519 secret key } (sealed.ts)
//   keyring                  the root-signed keyring envelope as published (public; checked against root on read)
//   webhook-secret           { secret: sealed HMAC secret } (design §7 webhooks: one secret for all replicas)
// A row that does not open (altered, wrong key-encryption key, keyring not signed by root) stops the start with
// its code and changes nothing.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  EdgefleetError,
  Envelope,
  generateKeyPair,
  importKeyPair,
  signDocument,
  toBase64,
  toKeyringKey,
  utf8Decode,
  utf8Encode,
  verifyKeyring,
  type KeyPair,
  type Keyring,
  type KeyringKey,
} from '@edgefleet/protocol';
import type { SecretRow, Store } from '../store/index.js';
import { DAY_MS, KEYRING_RENEW_DAYS, buildKeyring, decodeKeyring, readKeyFile, type HubKeys } from './keys.js';
import { seal, unseal, type KeyEncryptionKey } from './sealed.js';
import { createSigner } from './signer.js';

const KEY_ROWS = ['root', 'release', 'director'] as const;
const REQUIRED = [...KEY_ROWS, 'keyring', 'webhook-secret'] as const;
export type RotatableRole = 'release' | 'director';

interface Opened {
  keys: HubKeys;
  webhookSecret: string;
  rows: Map<string, SecretRow>;
}

const sealKey = (kek: KeyEncryptionKey, name: string, kp: KeyPair): string =>
  JSON.stringify({ keyId: kp.keyId, publicKey: toBase64(kp.publicKey), secret: seal(kek, name, kp.secretKey) });

function parseRow(row: SecretRow): Record<string, unknown> {
  try {
    const v = JSON.parse(row.value) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // refused below
  }
  throw new EdgefleetError('BAD_MESSAGE', `hub secret "${row.name}" in the database is not JSON`);
}

function openKey(kek: KeyEncryptionKey, row: SecretRow): KeyPair {
  const j = parseRow(row);
  const secretKey = unseal(kek, row.name, j.secret);
  try {
    const kp = importKeyPair({ keyId: j.keyId, publicKey: j.publicKey, secretKey: toBase64(secretKey) });
    if (kp.keyId === j.keyId) return kp;
  } catch {
    // refused below
  }
  throw new EdgefleetError('BAD_SIGNATURE', `hub key "${row.name}" in the database: its public key and id do not belong to its sealed secret key (the row was altered)`);
}

function openKeyring(row: SecretRow, root: KeyPair): { keyring: Keyring; envelope: Envelope } {
  // signature, shape and key ids; expiry is not a reason to refuse here (a stale keyring is renewed), hence epoch
  const checked = verifyKeyring(row.value, root.publicKey, null, new Date(0));
  if (!checked.ok) throw new EdgefleetError(checked.code === 'BAD_MESSAGE' || checked.code === 'BAD_JSON' ? 'BAD_MESSAGE' : 'BAD_SIGNATURE', `the keyring in the database: ${checked.message}`);
  return { keyring: checked.value, envelope: Envelope.parse(JSON.parse(row.value) as unknown) };
}

function openAll(kek: KeyEncryptionKey, list: readonly SecretRow[]): Opened {
  const rows = new Map(list.map((r) => [r.name, r]));
  const missing = REQUIRED.filter((n) => !rows.has(n));
  if (missing.length) {
    throw new EdgefleetError('CONFLICT', `the database holds hub secrets but not ${missing.join(', ')}: restore them from a backup (a hub creates a set only in an empty table)`);
  }
  const [root, release, director] = KEY_ROWS.map((n) => openKey(kek, rows.get(n)!)) as [KeyPair, KeyPair, KeyPair];
  const { keyring, envelope } = openKeyring(rows.get('keyring')!, root);
  const webhook = utf8Decode(unseal(kek, 'webhook-secret', parseRow(rows.get('webhook-secret')!).secret));
  return {
    keys: { root, release, director, releaseSigner: createSigner(release), directorSigner: createSigner(director), keyring, keyringEnvelope: envelope },
    webhookSecret: webhook,
    rows,
  };
}

/** Due for a new signature: close to expiry, or the current release / director key is not in it with its role. */
function keyringStale(k: HubKeys, now: Date): boolean {
  const has = (kp: KeyPair, role: 'release' | 'director') => k.keyring.keys.some((x) => x.keyId === kp.keyId && x.roles.includes(role));
  return new Date(k.keyring.expiresAt).getTime() - now.getTime() < KEYRING_RENEW_DAYS * DAY_MS || !has(k.release, 'release') || !has(k.director, 'director');
}

/** The next keyring: the current keys, plus `keep` (keys retired by a rotation: what they signed still verifies). */
function nextKeyring(prev: Keyring | undefined, release: KeyPair, director: KeyPair, now: Date, keep: readonly KeyringKey[]): Keyring {
  const k = buildKeyring(release, director, (prev?.version ?? 0) + 1, now, prev);
  for (const x of keep) if (!k.keys.some((y) => y.keyId === x.keyId) && !k.revokedKeyIds.includes(x.keyId)) k.keys.push(x);
  return k;
}

/**
 * The first set: the files of `importDir` when it holds a root key (a one-hub deployment moving to replicas
 * keeps its keys, so devices keep trusting them), else new keys; the webhook secret from `webhookFile` or new.
 */
function firstRows(kek: KeyEncryptionKey, importDir: string | undefined, webhookFile: string | undefined, now: Date) {
  const file = (n: string) => join(importDir ?? '', `${n}.json`);
  const imported = importDir !== undefined && existsSync(file('root'));
  const pair = (n: string) => (imported && existsSync(file(n)) ? readKeyFile(file(n)) : generateKeyPair());
  const [root, release, director] = KEY_ROWS.map(pair) as [KeyPair, KeyPair, KeyPair];
  let keyring = '';
  if (imported && existsSync(file('keyring'))) {
    keyring = readFileSync(file('keyring'), 'utf8').trim();
    if (!verifyKeyring(keyring, root.publicKey, null, new Date(0)).ok) throw new EdgefleetError('BAD_SIGNATURE', `${file('keyring')} is not a keyring signed by ${file('root')}: nothing imported`);
  } else {
    keyring = JSON.stringify(signDocument('keyring', buildKeyring(release, director, 1, now), [root]));
  }
  const fileSecret = webhookFile && existsSync(webhookFile) ? readFileSync(webhookFile, 'utf8').trim() : '';
  const webhook = fileSecret || randomBytes(32).toString('base64url');
  return {
    imported,
    rows: [
      ...KEY_ROWS.map((n, i) => ({ name: n, value: sealKey(kek, n, [root, release, director][i]!) })),
      { name: 'keyring', value: keyring },
      { name: 'webhook-secret', value: JSON.stringify({ secret: seal(kek, 'webhook-secret', utf8Encode(webhook)) }) },
    ],
  };
}

export interface DbKeysOptions {
  store: Store;
  kek: KeyEncryptionKey;
  /** A data dir's keys dir to import on the first start against an empty table. */
  importDir?: string;
  /** A data dir's webhook secret file to import likewise. */
  webhookFile?: string;
  now?: () => Date;
}

export interface DbKeys {
  /** Updated in place by `reload`, so every service holding it signs with the current keys. */
  keys: HubKeys;
  webhookSecret: string;
  /** This replica made the set (new keys), or imported it from files; false when it found one. */
  created: boolean;
  imported: boolean;
  /** This replica signed a new keyring at start (close to expiry, or keys changed). */
  renewed: boolean;
  /**
   * Re-reads the rows when their versions changed (a rotation or renewal by another replica or the CLI):
   * resolves to true when the keyring changed. Throws, keeping the current keys, when a row does not open.
   */
  reload(): Promise<boolean>;
}

const versionsOf = (rows: ReadonlyArray<{ name: string; version: number }>) => rows.map((r) => `${r.name}@${r.version}`).join(',');

export async function openDbKeys(o: DbKeysOptions): Promise<DbKeys> {
  const now = o.now ?? (() => new Date());
  const secrets = o.store.secrets;
  let created = false;
  let imported = false;
  if ((await secrets.versions()).length === 0) {
    // under the lock: two replicas starting at once on an empty table end with one set, never a mix
    await secrets.exclusive(async () => {
      if ((await secrets.versions()).length > 0) return;
      const first = firstRows(o.kek, o.importDir, o.webhookFile, now());
      await secrets.insertMissing(first.rows, now().toISOString());
      imported = first.imported;
      created = !first.imported;
    });
  }
  let opened = openAll(o.kek, await secrets.all());
  let renewed = false;
  if (keyringStale(opened.keys, now())) {
    renewed = await secrets.exclusive(async () => {
      const cur = openAll(o.kek, await secrets.all());
      if (!keyringStale(cur.keys, now())) return false;
      const { root, release, director, keyring } = cur.keys;
      const env = signDocument('keyring', nextKeyring(keyring, release, director, now(), keyring.keys), [root]);
      return secrets.replace('keyring', JSON.stringify(env), cur.rows.get('keyring')!.version, now().toISOString());
    });
    opened = openAll(o.kek, await secrets.all());
  }
  let seen = versionsOf([...opened.rows.values()]);
  const keys = opened.keys;
  return {
    keys,
    webhookSecret: opened.webhookSecret,
    created,
    imported,
    renewed,
    async reload() {
      if (versionsOf(await secrets.versions()) === seen) return false;
      const next = openAll(o.kek, await secrets.all());
      seen = versionsOf([...next.rows.values()]);
      if (next.keys.keyring.version < keys.keyring.version) return false; // never back to an older keyring
      const changed = next.keys.keyring.version !== keys.keyring.version;
      Object.assign(keys, next.keys);
      return changed;
    },
  };
}

/**
 * `edgefleet keys rotate ROLE`: a new release or director key, and a keyring (version + 1, root-signed) that
 * lists it and keeps the key it replaces, so what the old key signed (manifests, desired states on devices)
 * still verifies; a key retired by the rotation before is dropped. Replicas pick it up on their next reload.
 */
export async function rotateDbKey(store: Store, kek: KeyEncryptionKey, role: RotatableRole, now = new Date()): Promise<{ keyId: string; retired: string; keyring: Keyring }> {
  return store.secrets.exclusive(async () => {
    const cur = openAll(kek, await store.secrets.all());
    const fresh = generateKeyPair();
    const old = cur.keys[role];
    const release = role === 'release' ? fresh : cur.keys.release;
    const director = role === 'director' ? fresh : cur.keys.director;
    const keep = [...cur.keys.keyring.keys.filter((k) => !k.roles.includes(role)), toKeyringKey(old, [role])];
    const keyring = nextKeyring(cur.keys.keyring, release, director, now, keep);
    const env = signDocument('keyring', keyring, [cur.keys.root]);
    const at = now.toISOString();
    const ok =
      (await store.secrets.replace(role, sealKey(kek, role, fresh), cur.rows.get(role)!.version, at)) &&
      (await store.secrets.replace('keyring', JSON.stringify(env), cur.rows.get('keyring')!.version, at));
    if (!ok) throw new EdgefleetError('CONFLICT', 'the hub secrets changed during the rotation; run it again');
    await store.appendAudit('cli', 'keys.rotate', { role, keyId: fresh.keyId, retired: old.keyId, keyring: keyring.version });
    return { keyId: fresh.keyId, retired: old.keyId, keyring };
  });
}
