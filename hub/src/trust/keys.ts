// The hub's signing keys and root-signed keyring (design §3): created on first start or by `keys init`,
// stored as JSON files with mode 0600 under <data>/keys/ (on SQLite; on PostgreSQL in the database, db-keys.ts).

import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import {
  EdgefleetError,
  Envelope,
  Keyring,
  exportKeyPair,
  fromBase64,
  generateKeyPair,
  importKeyPair,
  signDocument,
  toKeyringKey,
  utf8Decode,
  type KeyPair,
} from '@edgefleet/protocol';
import { createSigner, type Signer } from './signer.js';

export interface HubKeys {
  root: KeyPair;
  release: KeyPair;
  director: KeyPair;
  /** Fast native signers for the release and director keys (see signer.ts). */
  releaseSigner: Signer;
  directorSigner: Signer;
  keyring: Keyring;
  /** The exact signed keyring envelope, as published on `ef/v1/keyring`. */
  keyringEnvelope: Envelope;
}

const KEYRING_LIFETIME_DAYS = 365;
/** Re-sign the keyring (version + 1) when it would expire within this many days. */
export const KEYRING_RENEW_DAYS = 30;
export const DAY_MS = 86_400_000;

function writeSecret(file: string, content: string): void {
  writeFileSync(file, content, { mode: 0o600 });
  chmodSync(file, 0o600); // an existing file keeps its old mode on write
}

/** A key pair file as `keys init` writes it (BAD_INPUT when it is not one). */
export function readKeyFile(file: string): KeyPair {
  try {
    return importKeyPair(JSON.parse(readFileSync(file, 'utf8')) as unknown);
  } catch (err) {
    throw new EdgefleetError('BAD_INPUT', `cannot read key file ${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

export function buildKeyring(release: KeyPair, director: KeyPair, version: number, now: Date, previous?: Keyring): Keyring {
  return {
    kind: 'keyring',
    version,
    expiresAt: new Date(now.getTime() + KEYRING_LIFETIME_DAYS * DAY_MS).toISOString(),
    keys: [toKeyringKey(release, ['release']), toKeyringKey(director, ['director'])],
    threshold: { release: 1, director: 1 },
    revokedKeyIds: previous?.revokedKeyIds ?? [],
    releaseFloors: previous?.releaseFloors ?? {},
  };
}

export function decodeKeyring(env: Envelope): Keyring {
  return Keyring.parse(JSON.parse(utf8Decode(fromBase64(env.payload))) as unknown);
}

/**
 * Load the keys in `dir`, creating whatever is missing. Returns `created: true` when a new root key
 * was made (the caller warns that production keeps root offline, design §2).
 */
export function loadOrCreateKeys(dir: string, now = new Date()): { keys: HubKeys; created: boolean; renewed: boolean } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = (name: string) => join(dir, `${name}.json`);
  let created = false;
  const pair = (name: string): KeyPair => {
    if (existsSync(file(name))) return readKeyFile(file(name));
    const kp = generateKeyPair();
    writeSecret(file(name), JSON.stringify(exportKeyPair(kp), null, 2) + '\n');
    if (name === 'root') created = true;
    return kp;
  };
  const root = pair('root');
  const release = pair('release');
  const director = pair('director');

  let envelope: Envelope | undefined;
  let keyring: Keyring | undefined;
  if (existsSync(file('keyring'))) {
    envelope = Envelope.parse(JSON.parse(readFileSync(file('keyring'), 'utf8')) as unknown);
    keyring = decodeKeyring(envelope);
  }
  const wantIds = new Set([release.keyId, director.keyId]);
  const stale =
    !keyring ||
    new Date(keyring.expiresAt).getTime() - now.getTime() < KEYRING_RENEW_DAYS * DAY_MS ||
    !keyring.keys.every((k) => wantIds.has(k.keyId)) ||
    keyring.keys.length !== wantIds.size;
  let renewed = false;
  if (stale) {
    keyring = buildKeyring(release, director, (keyring?.version ?? 0) + 1, now, keyring);
    envelope = signDocument('keyring', keyring, [root]);
    writeSecret(file('keyring'), JSON.stringify(envelope, null, 2) + '\n');
    renewed = true;
  }
  return {
    keys: {
      root,
      release,
      director,
      releaseSigner: createSigner(release),
      directorSigner: createSigner(director),
      keyring: keyring!,
      keyringEnvelope: envelope!,
    },
    created,
    renewed,
  };
}
