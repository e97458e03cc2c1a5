// Native Ed25519 verification for the Node agent (node:crypto, ~50× tweetnacl): installed as protocol's
// signature backend, so every desired state, manifest and keyring is checked exactly as before, faster.

import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { setSignatureVerifier, type SignatureVerifier } from '@edgefleet/protocol';

// DER SubjectPublicKeyInfo prefix of a raw 32-byte Ed25519 key (RFC 8410)
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** A node:crypto Ed25519 verifier; key objects are cached (a fleet verifies against a handful of keys). */
export function createNodeSignatureVerifier(): SignatureVerifier {
  const keys = new Map<string, KeyObject>();
  return (message, signature, publicKey) => {
    const id = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString('base64');
    let key = keys.get(id);
    if (!key) {
      key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
      if (keys.size >= 64) keys.clear();
      keys.set(id, key);
    }
    return verify(null, message, key, signature);
  };
}

let installed = false;

/** Install the native verifier process-wide (idempotent). */
export function installNodeSignatureVerifier(): void {
  if (installed) return;
  installed = true;
  setSignatureVerifier(createNodeSignatureVerifier());
}
