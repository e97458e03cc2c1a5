// Both browser hashers against node:crypto: the incremental one fed in uneven chunks, the Web Crypto one-shot.

import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EdgefleetError } from '@edgefleet/protocol';
import { createSha256Stream, sha256HexOnce } from '@edgefleet/web-runtime';

const nodeHex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('sha256 in the browser agent', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('hashes the empty input like node:crypto, both ways', async () => {
    const empty = new Uint8Array(0);
    const stream = createSha256Stream();
    expect(stream.digestHex()).toBe(nodeHex(empty));
    expect(await sha256HexOnce(empty)).toBe(nodeHex(empty));
    expect(nodeHex(empty)).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('hashes random inputs fed in uneven chunks like node:crypto', () => {
    for (const size of [1, 63, 64, 65, 1000, 300_001]) {
      const bytes = new Uint8Array(randomBytes(size));
      const stream = createSha256Stream();
      let at = 0;
      for (let step = 1; at < size; step = step * 3 + 1) {
        stream.update(bytes.subarray(at, at + step));
        at += step;
      }
      expect(stream.digestHex(), `${size} bytes`).toBe(nodeHex(bytes));
    }
  });

  it('hashes random inputs in one Web Crypto call like node:crypto, a view over a larger buffer included', async () => {
    for (const size of [1, 64, 4097, 1 << 20]) {
      const bytes = new Uint8Array(randomBytes(size));
      expect(await sha256HexOnce(bytes), `${size} bytes`).toBe(nodeHex(bytes));
    }
    const big = new Uint8Array(randomBytes(1000));
    const view = big.subarray(100, 900);
    expect(await sha256HexOnce(view)).toBe(nodeHex(view));
  });

  it('refuses to hash without Web Crypto (an insecure context) with UNAVAILABLE', async () => {
    vi.stubGlobal('crypto', undefined);
    const err = await sha256HexOnce(new Uint8Array(1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EdgefleetError);
    expect((err as EdgefleetError).code).toBe('UNAVAILABLE');
  });
});
