// Byte encodings and hashing shared by hub, agent and browser: base64, hex, UTF-8, sha256.
// Pure (no Buffer, no node:*) so the same code runs in the web runtime (design §1, §3).

import { sha256 as nobleSha256 } from '@noble/hashes/sha2';

const B64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_LOOKUP = new Int16Array(128).fill(-1);
for (let i = 0; i < B64_ALPHABET.length; i++) B64_LOOKUP[B64_ALPHABET.charCodeAt(i)] = i;

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Standard base64 with padding (RFC 4648 §4). */
export function toBase64(bytes: Uint8Array): string {
  const parts: string[] = [];
  let out = '';
  const n = bytes.length;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out +=
      B64_ALPHABET[(v >> 18) & 63]! + B64_ALPHABET[(v >> 12) & 63]! + B64_ALPHABET[(v >> 6) & 63]! + B64_ALPHABET[v & 63]!;
    // Flush periodically so very large inputs do not build one enormous rope.
    if (out.length >= 65536) {
      parts.push(out);
      out = '';
    }
  }
  const rest = n - i;
  if (rest === 1) {
    const v = bytes[i]! << 16;
    out += B64_ALPHABET[(v >> 18) & 63]! + B64_ALPHABET[(v >> 12) & 63]! + '==';
  } else if (rest === 2) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += B64_ALPHABET[(v >> 18) & 63]! + B64_ALPHABET[(v >> 12) & 63]! + B64_ALPHABET[(v >> 6) & 63]! + '=';
  }
  parts.push(out);
  return parts.join('');
}

/**
 * Decode standard base64 (padding optional). Throws a TypeError on any character outside the
 * alphabet or an impossible length, so callers on untrusted paths map it to BAD_MESSAGE.
 */
export function fromBase64(s: string): Uint8Array {
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 61 /* = */) end--;
  if (s.length - end > 2) throw new TypeError('invalid base64: too much padding');
  if (end % 4 === 1) throw new TypeError('invalid base64: impossible length');
  if (s.length % 4 !== 0 && s.length !== end) throw new TypeError('invalid base64: bad padding');
  const out = new Uint8Array(Math.floor((end * 3) / 4));
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    const v = c < 128 ? B64_LOOKUP[c]! : -1;
    if (v < 0) throw new TypeError(`invalid base64 character at ${i}`);
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return o === out.length ? out : out.subarray(0, o);
}

const encoder = new TextEncoder();
// fatal: malformed UTF-8 on an untrusted path must be refused, not silently replaced with U+FFFD.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function utf8Encode(s: string): Uint8Array {
  return encoder.encode(s);
}

/** Decode UTF-8; throws a TypeError on malformed input (callers map it to BAD_JSON). */
export function utf8Decode(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** Lowercase hex. */
export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]!]!;
  return out;
}

/** Parse hex (either case, even length); throws a TypeError otherwise. */
export function fromHex(s: string): Uint8Array {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw new TypeError('invalid hex string');
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function sha256(bytes: Uint8Array): Uint8Array {
  return nobleSha256(bytes);
}

export function sha256Hex(bytes: Uint8Array): string {
  return toHex(nobleSha256(bytes));
}

/** Incremental sha256 for artifacts that arrive in chunks (design §5: verify length and hash after download). */
export interface Sha256Hasher {
  update(bytes: Uint8Array): Sha256Hasher;
  digest(): Uint8Array;
  digestHex(): string;
}

export function createSha256(): Sha256Hasher {
  const h = nobleSha256.create();
  const hasher: Sha256Hasher = {
    update(bytes) {
      h.update(bytes);
      return hasher;
    },
    digest: () => h.digest(),
    digestHex: () => toHex(h.digest()),
  };
  return hasher;
}

/** Byte equality in time independent of where the first difference is. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
