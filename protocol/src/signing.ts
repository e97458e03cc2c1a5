// Ed25519 key pairs and envelope signing (design §3), via tweetnacl so Node and browser share one code path.
// A document is serialized once; the signature covers "edgefleet/v1:" + kind + ":" + those exact bytes.

import nacl from 'tweetnacl';
import { EdgefleetError } from './errors.js';
import { fromBase64, sha256, toBase64, toHex, utf8Encode } from './encoding.js';
import type { Envelope, KeyRole, KeyringKey, SignedKind } from './schemas/index.js';

export interface KeyPair {
  /** First 16 hex chars of sha256(publicKey) (design §3). */
  keyId: string;
  /** 32-byte Ed25519 public key. */
  publicKey: Uint8Array;
  /** 64-byte tweetnacl secret key (seed ‖ public key). */
  secretKey: Uint8Array;
}

/** A key pair as JSON (what the hub stores on disk). */
export interface ExportedKeyPair {
  keyId: string;
  publicKey: string;
  secretKey: string;
}

export const SIGNATURE_DOMAIN = 'edgefleet/v1';

/** keyId = first 16 hex chars of sha256(publicKey) (design §3). */
export function keyIdOf(publicKey: Uint8Array): string {
  return toHex(sha256(publicKey)).slice(0, 16);
}

/** A fresh key pair, or a deterministic one from a 32-byte seed (tests, fixtures). */
export function generateKeyPair(seed?: Uint8Array): KeyPair {
  let kp: nacl.SignKeyPair;
  if (seed === undefined) {
    kp = nacl.sign.keyPair();
  } else {
    if (seed.length !== nacl.sign.seedLength) {
      throw new EdgefleetError('BAD_INPUT', `key seed must be ${nacl.sign.seedLength} bytes, got ${seed.length}`);
    }
    kp = nacl.sign.keyPair.fromSeed(seed);
  }
  return { keyId: keyIdOf(kp.publicKey), publicKey: kp.publicKey, secretKey: kp.secretKey };
}

export function exportKeyPair(kp: KeyPair): ExportedKeyPair {
  return { keyId: kp.keyId, publicKey: toBase64(kp.publicKey), secretKey: toBase64(kp.secretKey) };
}

/** Inverse of exportKeyPair; refuses a file whose parts do not belong together. */
export function importKeyPair(json: unknown): KeyPair {
  const j = json as Partial<ExportedKeyPair> | null;
  if (!j || typeof j !== 'object' || typeof j.publicKey !== 'string' || typeof j.secretKey !== 'string') {
    throw new EdgefleetError('BAD_INPUT', 'key pair must be { keyId, publicKey, secretKey } in base64');
  }
  let publicKey: Uint8Array;
  let secretKey: Uint8Array;
  try {
    publicKey = fromBase64(j.publicKey);
    secretKey = fromBase64(j.secretKey);
  } catch (err) {
    throw new EdgefleetError('BAD_INPUT', 'key pair is not valid base64', { cause: err });
  }
  if (publicKey.length !== nacl.sign.publicKeyLength || secretKey.length !== nacl.sign.secretKeyLength) {
    throw new EdgefleetError('BAD_INPUT', 'key pair has wrong key lengths');
  }
  // The secret key's second half is its public key; a mismatch means a corrupted or spliced file.
  const derived = nacl.sign.keyPair.fromSecretKey(secretKey).publicKey;
  if (toHex(derived) !== toHex(publicKey)) throw new EdgefleetError('BAD_INPUT', 'public key does not match secret key');
  const keyId = keyIdOf(publicKey);
  if (j.keyId !== undefined && j.keyId !== keyId) throw new EdgefleetError('BAD_INPUT', `keyId ${j.keyId} does not match public key`);
  return { keyId, publicKey, secretKey };
}

/** The keyring entry for a key pair (design §3 keyring `keys[]`). */
export function toKeyringKey(kp: Pick<KeyPair, 'keyId' | 'publicKey'>, roles: KeyRole[]): KeyringKey {
  return { keyId: kp.keyId, publicKey: toBase64(kp.publicKey), roles: [...roles] };
}

/** The bytes a signature covers: domain separation by kind, so no signature verifies as another kind (design §3). */
export function signedMessage(kind: SignedKind, payload: Uint8Array): Uint8Array {
  const prefix = utf8Encode(`${SIGNATURE_DOMAIN}:${kind}:`);
  const msg = new Uint8Array(prefix.length + payload.length);
  msg.set(prefix, 0);
  msg.set(payload, prefix.length);
  return msg;
}

/** Sign exact payload bytes with one or more keys. */
export function signBytes(kind: SignedKind, payload: Uint8Array, signers: readonly KeyPair[]): Envelope {
  if (signers.length === 0) throw new EdgefleetError('BAD_INPUT', 'at least one signer is required');
  const msg = signedMessage(kind, payload);
  const seen = new Set<string>();
  const signatures: Envelope['signatures'] = [];
  for (const kp of signers) {
    if (seen.has(kp.keyId)) continue; // one signature per key; duplicates never count twice anyway
    seen.add(kp.keyId);
    signatures.push({ keyId: kp.keyId, sig: toBase64(nacl.sign.detached(msg, kp.secretKey)) });
  }
  return { payload: toBase64(payload), signatures };
}

/**
 * Serialize `doc` once with JSON.stringify and sign those bytes (design §3: never re-serialize to verify).
 * If the document names a `kind`, it must be the kind it is signed as.
 */
export function signDocument(kind: SignedKind, doc: unknown, signers: readonly KeyPair[]): Envelope {
  if (doc !== null && typeof doc === 'object' && 'kind' in doc && (doc as { kind: unknown }).kind !== kind) {
    throw new EdgefleetError('BAD_INPUT', `document of kind ${String((doc as { kind: unknown }).kind)} cannot be signed as ${kind}`);
  }
  const text = JSON.stringify(doc);
  if (text === undefined) throw new EdgefleetError('BAD_INPUT', 'document is not JSON-serializable');
  return signBytes(kind, utf8Encode(text), signers);
}

/** A detached Ed25519 verification: 64-byte signature, 32-byte public key; must not throw. */
export type SignatureVerifier = (message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array) => boolean;

const naclVerify: SignatureVerifier = (message, signature, publicKey) => nacl.sign.detached.verify(message, signature, publicKey);
let verifier: SignatureVerifier = naclVerify;

/**
 * Swap the Ed25519 verification backend (default tweetnacl, pure JS, ~5–25 ms a verify on small CPUs).
 * Ed25519 verification is deterministic and standard, so a native backend (the Node agent installs
 * node:crypto's) decides exactly as tweetnacl does; null restores tweetnacl. Process-wide.
 */
export function setSignatureVerifier(fn: SignatureVerifier | null): void {
  verifier = fn ?? naclVerify;
}

/** Ed25519 check through the installed backend; false on malformed lengths. */
export function ed25519Verify(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== nacl.sign.signatureLength || publicKey.length !== nacl.sign.publicKeyLength) return false;
  try {
    return verifier(message, signature, publicKey);
  } catch {
    return false;
  }
}

/** Ed25519 check of one signature over (kind, payload); false on any malformed input. */
export function verifySignature(kind: SignedKind, payload: Uint8Array, sig: Uint8Array, publicKey: Uint8Array): boolean {
  return ed25519Verify(signedMessage(kind, payload), sig, publicKey);
}
