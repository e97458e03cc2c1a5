import { describe, expect, it } from 'vitest';
import { createPacketScanner } from './packet-limit.js';

const header = (type: number, len: number): number[] => {
  const out = [type];
  for (let x = len; ; ) {
    let b = x % 128;
    x = Math.floor(x / 128);
    if (x > 0) b |= 0x80;
    out.push(b);
    if (x === 0) return out;
  }
};

describe('MQTT packet scanner', () => {
  it('accepts packets up to the cap split across arbitrary chunk boundaries', () => {
    const s = createPacketScanner(200);
    const bytes = Uint8Array.from([...header(0x30, 150), ...new Array(150).fill(1), ...header(0xc0, 0), ...header(0x30, 197), ...new Array(197).fill(2)]);
    for (let i = 0; i < bytes.length; i += 7) expect(s.feed(bytes.subarray(i, i + 7))).toBe(true);
  });

  it('refuses a header announcing more than the cap before any body byte', () => {
    const s = createPacketScanner(1000);
    expect(s.feed(Uint8Array.from(header(0x30, 5)))).toBe(true);
    expect(s.feed(Uint8Array.from([1, 2, 3, 4, 5]))).toBe(true);
    expect(s.feed(Uint8Array.from(header(0x30, 1000)))).toBe(false);
  });

  it('refuses a remaining length longer than four bytes', () => {
    const s = createPacketScanner(Number.MAX_SAFE_INTEGER);
    expect(s.feed(Uint8Array.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toBe(false);
  });

  it('reads a cap given as a function at each header (a smaller one before CONNACK)', () => {
    let cap = 100;
    const s = createPacketScanner(() => cap);
    expect(s.feed(Uint8Array.from([...header(0x10, 90), ...new Array(90).fill(0)]))).toBe(true);
    cap = 1000;
    expect(s.feed(Uint8Array.from([...header(0x30, 500), ...new Array(500).fill(0)]))).toBe(true);
    cap = 100;
    expect(s.feed(Uint8Array.from(header(0x30, 500)))).toBe(false);
  });
});
