import { afterEach, describe, expect, it } from 'vitest';
import { utf8Encode } from './encoding.js';
import { generateKeyPair, setSignatureVerifier, signBytes, signedMessage, verifySignature } from './signing.js';
import { fromBase64 } from './encoding.js';

const kp = generateKeyPair(new Uint8Array(32).fill(7));
const payload = utf8Encode('{"kind":"manifest","x":1}');
const env = signBytes('manifest', payload, [kp]);
const sig = fromBase64(env.signatures[0]!.sig);

describe('injectable signature backend', () => {
  afterEach(() => setSignatureVerifier(null));

  it('verifies with tweetnacl by default and refuses a tampered payload', () => {
    expect(verifySignature('manifest', payload, sig, kp.publicKey)).toBe(true);
    expect(verifySignature('manifest', utf8Encode('{"kind":"manifest","x":2}'), sig, kp.publicKey)).toBe(false);
  });

  it('routes every verification through an installed backend, with the signed message bytes', () => {
    const seen: Uint8Array[] = [];
    setSignatureVerifier((message) => {
      seen.push(message);
      return false;
    });
    expect(verifySignature('manifest', payload, sig, kp.publicKey)).toBe(false);
    expect(seen).toEqual([signedMessage('manifest', payload)]);
  });

  it('treats a throwing backend as a failed verification and null restores tweetnacl', () => {
    setSignatureVerifier(() => {
      throw new Error('boom');
    });
    expect(verifySignature('manifest', payload, sig, kp.publicKey)).toBe(false);
    setSignatureVerifier(null);
    expect(verifySignature('manifest', payload, sig, kp.publicKey)).toBe(true);
  });

  it('never hands malformed lengths to the backend', () => {
    let called = 0;
    setSignatureVerifier(() => (called++, true));
    expect(verifySignature('manifest', payload, sig.subarray(1), kp.publicKey)).toBe(false);
    expect(verifySignature('manifest', payload, sig, kp.publicKey.subarray(1))).toBe(false);
    expect(called).toBe(0);
  });
});
