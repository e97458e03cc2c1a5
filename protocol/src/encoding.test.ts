import { describe, expect, it } from 'vitest';
import { bytesEqual, createSha256, fromBase64, fromHex, sha256Hex, toBase64, toHex, utf8Decode, utf8Encode } from './encoding.js';

const ascii = (s: string) => utf8Encode(s);

describe('encoding', () => {
  it('encodes and decodes the RFC 4648 base64 test vectors', () => {
    const vectors: Array<[string, string]> = [
      ['', ''],
      ['f', 'Zg=='],
      ['fo', 'Zm8='],
      ['foo', 'Zm9v'],
      ['foob', 'Zm9vYg=='],
      ['fooba', 'Zm9vYmE='],
      ['foobar', 'Zm9vYmFy'],
    ];
    for (const [plain, b64] of vectors) {
      expect(toBase64(ascii(plain))).toBe(b64);
      expect(utf8Decode(fromBase64(b64))).toBe(plain);
    }
  });

  it('round-trips every byte value through base64, with and without padding', () => {
    const all = Uint8Array.from({ length: 256 * 3 + 1 }, (_, i) => (i * 37) & 0xff);
    for (const n of [0, 1, 2, 3, 4, 255, 256, all.length]) {
      const bytes = all.subarray(0, n);
      const b64 = toBase64(bytes);
      expect(bytesEqual(fromBase64(b64), bytes)).toBe(true);
      expect(bytesEqual(fromBase64(b64.replace(/=+$/, '')), bytes)).toBe(true);
    }
  });

  it('refuses base64 with characters outside the alphabet or impossible lengths', () => {
    expect(() => fromBase64('Zm9v!')).toThrow(TypeError);
    expect(() => fromBase64('Z')).toThrow(TypeError);
    expect(() => fromBase64('Zg===')).toThrow(TypeError);
    expect(() => fromBase64('Zm9v-_')).toThrow(TypeError);
  });

  it('computes the FIPS 180-2 sha256 of "abc", one-shot and incrementally', () => {
    const expected = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
    expect(sha256Hex(ascii('abc'))).toBe(expected);
    expect(createSha256().update(ascii('a')).update(ascii('bc')).digestHex()).toBe(expected);
    expect(sha256Hex(new Uint8Array(0))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('round-trips hex and refuses odd or non-hex input', () => {
    const bytes = Uint8Array.from([0, 1, 0x7f, 0x80, 0xfe, 0xff]);
    expect(toHex(bytes)).toBe('00017f80feff');
    expect(bytesEqual(fromHex('00017F80FEFF'), bytes)).toBe(true);
    expect(() => fromHex('abc')).toThrow(TypeError);
    expect(() => fromHex('zz')).toThrow(TypeError);
  });

  it('round-trips non-ASCII UTF-8 and refuses malformed UTF-8 instead of replacing it', () => {
    const s = 'Grüße, 東京 🚀';
    expect(utf8Decode(utf8Encode(s))).toBe(s);
    expect(() => utf8Decode(Uint8Array.from([0x7b, 0xff, 0x7d]))).toThrow();
  });
});
