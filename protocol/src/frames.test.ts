import { describe, expect, it } from 'vitest';
import { EdgefleetError } from './errors.js';
import { sha256Hex, utf8Encode } from './encoding.js';
import { CHUNK_FRAME_HEADER_BYTES, decodeChunkFrame, encodeChunkFrame } from './frames.js';
import { LIMITS } from './limits.js';

const SHA = sha256Hex(utf8Encode('artifact'));

describe('chunk frames', () => {
  it('round-trips sha256, index and data in the EFC1 layout of design §4', () => {
    const data = Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff);
    const frame = encodeChunkFrame(SHA, 0x01020304, data);
    expect(frame.length).toBe(CHUNK_FRAME_HEADER_BYTES + data.length);
    expect(Array.from(frame.subarray(0, 4))).toEqual([0x45, 0x46, 0x43, 0x31]);
    expect(Array.from(frame.subarray(36, 40))).toEqual([1, 2, 3, 4]); // u32 big-endian
    const decoded = decodeChunkFrame(frame);
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    expect(decoded.value.sha256).toBe(SHA);
    expect(decoded.value.index).toBe(0x01020304);
    expect(Array.from(decoded.value.data)).toEqual(Array.from(data));
  });

  it('carries the largest u32 index', () => {
    const decoded = decodeChunkFrame(encodeChunkFrame(SHA, 0xffffffff, new Uint8Array([9])));
    expect(decoded.ok && decoded.value.index).toBe(0xffffffff);
  });

  it('decodes a frame that sits at an offset inside a larger buffer', () => {
    const frame = encodeChunkFrame(SHA, 7, new Uint8Array([1, 2, 3]));
    const big = new Uint8Array(frame.length + 10);
    big.set(frame, 5);
    const decoded = decodeChunkFrame(big.subarray(5, 5 + frame.length));
    expect(decoded.ok && decoded.value.index).toBe(7);
    expect(decoded.ok && Array.from(decoded.value.data)).toEqual([1, 2, 3]);
  });

  it('refuses a truncated frame, a header without data and a wrong magic', () => {
    const frame = encodeChunkFrame(SHA, 1, new Uint8Array([1, 2, 3]));
    for (const cut of [0, 3, 20, 39, 40]) {
      const r = decodeChunkFrame(frame.subarray(0, cut));
      expect(r.ok ? 'ok' : r.code).toBe('BAD_MESSAGE');
    }
    const wrong = frame.slice();
    wrong[3] = 0x32; // "EFC2"
    const r = decodeChunkFrame(wrong);
    expect(r.ok ? 'ok' : r.code).toBe('BAD_MESSAGE');
  });

  it('refuses a frame larger than the chunk cap', () => {
    const r = decodeChunkFrame(new Uint8Array(CHUNK_FRAME_HEADER_BYTES + LIMITS.chunkBytes + 1));
    expect(r.ok ? 'ok' : r.code).toBe('TOO_LARGE');
  });

  it('refuses to encode a bad sha256, a non-u32 index or an oversized chunk', () => {
    expect(() => encodeChunkFrame('ABC', 0, new Uint8Array(1))).toThrow(EdgefleetError);
    expect(() => encodeChunkFrame(SHA, -1, new Uint8Array(1))).toThrow(EdgefleetError);
    expect(() => encodeChunkFrame(SHA, 2 ** 32, new Uint8Array(1))).toThrow(EdgefleetError);
    expect(() => encodeChunkFrame(SHA, 0.5, new Uint8Array(1))).toThrow(EdgefleetError);
    expect(() => encodeChunkFrame(SHA, 0, new Uint8Array(LIMITS.chunkBytes + 1))).toThrow(EdgefleetError);
  });
});
