// The Node agent's native Ed25519 backend decides exactly as protocol's tweetnacl default.
import { afterEach, describe, expect, it } from 'vitest';
import {
  generateKeyPair,
  setSignatureVerifier,
  signDocument,
  fromBase64,
  utf8Encode,
  verifySignature,
} from '@edgefleet/protocol';
import nacl from 'tweetnacl';
import { createNodeSignatureVerifier } from '../src/node/ed25519.js';

describe('node:crypto Ed25519 verifier', () => {
  afterEach(() => setSignatureVerifier(null));

  it('agrees with tweetnacl on genuine, tampered and wrong-key signatures', () => {
    const verify = createNodeSignatureVerifier();
    const a = generateKeyPair(new Uint8Array(32).fill(1));
    const b = generateKeyPair(new Uint8Array(32).fill(2));
    for (let i = 0; i < 20; i++) {
      const msg = utf8Encode(`message ${i}`);
      const sig = nacl.sign.detached(msg, a.secretKey);
      const bad = sig.slice();
      bad[i % 64] = bad[i % 64]! ^ 1;
      const cases: [Uint8Array, Uint8Array, Uint8Array][] = [
        [msg, sig, a.publicKey],
        [utf8Encode(`message ${i}!`), sig, a.publicKey],
        [msg, bad, a.publicKey],
        [msg, sig, b.publicKey],
      ];
      for (const [m, s, pk] of cases) expect(verify(m, s, pk)).toBe(nacl.sign.detached.verify(m, s, pk));
    }
  });

  it('is what protocol verifies with once installed: a genuine envelope passes, a forged one does not', () => {
    setSignatureVerifier(createNodeSignatureVerifier());
    const release = generateKeyPair(new Uint8Array(32).fill(3));
    const other = generateKeyPair(new Uint8Array(32).fill(4));
    const good = signDocument('manifest', { kind: 'manifest' }, [release]);
    const forged = signDocument('manifest', { kind: 'manifest' }, [other]);
    const payload = fromBase64(good.payload);
    expect(verifySignature('manifest', payload, fromBase64(good.signatures[0]!.sig), release.publicKey)).toBe(true);
    expect(verifySignature('manifest', payload, fromBase64(forged.signatures[0]!.sig), release.publicKey)).toBe(false);
    expect(verifySignature('desired', payload, fromBase64(good.signatures[0]!.sig), release.publicKey)).toBe(false);
  });
});
