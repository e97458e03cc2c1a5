// TEMPORARY stand-in for web-runtime/src/sha256.ts (another helper's part): protocol's pure-JS sha256.
import { createSha256, toHex } from '@edgefleet/protocol';

export function createSha256Stream(): { update(b: Uint8Array): void; digestHex(): string } {
  const h = createSha256();
  return { update: (b) => void h.update(b), digestHex: () => toHex(h.digest()) };
}

export async function sha256HexOnce(b: Uint8Array): Promise<string> {
  const s = createSha256Stream();
  s.update(b);
  return s.digestHex();
}
