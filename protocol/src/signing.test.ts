import { describe, expect, it } from 'vitest';
import { EdgefleetError } from './errors.js';
import { fromBase64, sha256Hex, utf8Decode, utf8Encode } from './encoding.js';
import {
  exportKeyPair,
  generateKeyPair,
  importKeyPair,
  keyIdOf,
  signBytes,
  signDocument,
  signedMessage,
  toKeyringKey,
  verifySignature,
} from './signing.js';

const seed = (n: number) => new Uint8Array(32).fill(n);

describe('signing', () => {
  it('derives keyId as the first 16 hex chars of sha256(publicKey)', () => {
    const kp = generateKeyPair(seed(1));
    expect(kp.keyId).toBe(sha256Hex(kp.publicKey).slice(0, 16));
    expect(keyIdOf(kp.publicKey)).toBe(kp.keyId);
    expect(kp.keyId).toMatch(/^[0-9a-f]{16}$/);
  });

  it('is deterministic for a seed and random without one', () => {
    expect(generateKeyPair(seed(2)).keyId).toBe(generateKeyPair(seed(2)).keyId);
    expect(generateKeyPair().keyId).not.toBe(generateKeyPair().keyId);
    expect(() => generateKeyPair(new Uint8Array(31))).toThrow(EdgefleetError);
  });

  it('exports and imports a key pair, and refuses a spliced one', () => {
    const a = generateKeyPair(seed(3));
    const b = generateKeyPair(seed(4));
    const json = JSON.parse(JSON.stringify(exportKeyPair(a))) as unknown;
    const back = importKeyPair(json);
    expect(back.keyId).toBe(a.keyId);
    expect(Array.from(back.secretKey)).toEqual(Array.from(a.secretKey));
    const spliced = { ...exportKeyPair(a), publicKey: exportKeyPair(b).publicKey, keyId: b.keyId };
    expect(() => importKeyPair(spliced)).toThrow(/does not match/);
    expect(() => importKeyPair({ ...exportKeyPair(a), keyId: b.keyId })).toThrow(/keyId/);
    expect(() => importKeyPair({ publicKey: 1 })).toThrow(EdgefleetError);
  });

  it('signs the JSON bytes once, with every signer, over the domain-separated message', () => {
    const a = generateKeyPair(seed(5));
    const b = generateKeyPair(seed(6));
    const doc = { kind: 'command', z: 1, a: [1, 2] };
    const env = signDocument('command', doc, [a, b, a]);
    const payload = fromBase64(env.payload);
    expect(utf8Decode(payload)).toBe(JSON.stringify(doc));
    expect(env.signatures.map((s) => s.keyId)).toEqual([a.keyId, b.keyId]);
    for (const [i, kp] of [a, b].entries()) {
      const sig = fromBase64(env.signatures[i]!.sig);
      expect(verifySignature('command', payload, sig, kp.publicKey)).toBe(true);
      // Domain separation (design §3): the same bytes do not verify as another kind.
      expect(verifySignature('desired-state', payload, sig, kp.publicKey)).toBe(false);
    }
    expect(utf8Decode(signedMessage('command', utf8Encode('{}')))).toBe('edgefleet/v1:command:{}');
  });

  it('refuses to sign a document as a kind it does not declare, or with no signer', () => {
    const a = generateKeyPair(seed(7));
    expect(() => signDocument('command', { kind: 'model-manifest' }, [a])).toThrow(/cannot be signed as command/);
    expect(() => signBytes('command', utf8Encode('{}'), [])).toThrow(EdgefleetError);
  });

  it('builds keyring entries with base64 public keys', () => {
    const a = generateKeyPair(seed(8));
    const entry = toKeyringKey(a, ['release']);
    expect(entry.keyId).toBe(a.keyId);
    expect(keyIdOf(fromBase64(entry.publicKey))).toBe(a.keyId);
  });
});
