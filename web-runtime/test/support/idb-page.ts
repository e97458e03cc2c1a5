// Runs in a real Chromium page (bundled by idb-store-chromium.test.ts): drives the IndexedDB store through a
// download that outgrows the origin's quota, across a reload, with incompressible bytes (Chromium compresses
// large IndexedDB values, so a repeating pattern would never reach the quota).
import { openIndexedDbStore } from '../../src/idb-store.js';

export const SHA = 'ef'.repeat(32);
export const CHUNK = 1024 * 1024;
export const CHUNKS = 8;

/** The same pseudo-random bytes on every load (xorshift32). */
function modelBytes(): Uint8Array {
  const out = new Uint8Array(CHUNKS * CHUNK);
  let x = 2463534242;
  for (let i = 0; i < out.length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 255;
    out[i + 1] = (x >>> 8) & 255;
    out[i + 2] = (x >>> 16) & 255;
    out[i + 3] = (x >>> 24) & 255;
  }
  return out;
}

const code = (err: unknown): string => String((err as { code?: unknown }).code ?? err);
const chunk = (bytes: Uint8Array, i: number) => bytes.subarray(i * CHUNK, (i + 1) * CHUNK);

/** Before the reload: two chunks synced, then the quota runs out; the page is never closed cleanly. */
async function fill(): Promise<Record<string, unknown>> {
  const bytes = modelBytes();
  // every chunk held until the sync, so the sync's one transaction is what meets the quota
  const store = await openIndexedDbStore({ name: 'edgefleet-dev-web', maxPendingBytes: 2 * CHUNKS * CHUNK });
  await store.put('slots', { m: 'v1' });
  await store.openPartial(SHA, bytes.length, CHUNKS);
  await store.writeChunk(SHA, 0, chunk(bytes, 0));
  await store.writeChunk(SHA, CHUNK, chunk(bytes, 1));
  await store.syncPartial(SHA, Uint8Array.of(0b11));
  const errors: string[] = [];
  try {
    for (let i = 2; i < CHUNKS; i++) await store.writeChunk(SHA, i * CHUNK, chunk(bytes, i));
    await store.syncPartial(SHA, Uint8Array.of(0xff));
  } catch (err) {
    errors.push(code(err));
  }
  try {
    await store.commitPartial(SHA);
  } catch (err) {
    errors.push(code(err));
  }
  return { errors, artifacts: await store.listArtifacts(), slots: await store.get('slots') };
}

/** After the reload (the quota raised): exactly the synced bits and their bytes, then the rest. */
async function resume(): Promise<Record<string, unknown>> {
  const bytes = modelBytes();
  const store = await openIndexedDbStore({ name: 'edgefleet-dev-web' });
  const bits = Array.from(await store.openPartial(SHA, bytes.length, CHUNKS));
  const partial = await store.readPartial(SHA);
  const syncedIntact = partial.subarray(0, 2 * CHUNK).every((b, i) => b === bytes[i]);
  const restEmpty = partial.subarray(2 * CHUNK).every((b) => b === 0);
  for (let i = 2; i < CHUNKS; i++) await store.writeChunk(SHA, i * CHUNK, chunk(bytes, i));
  await store.syncPartial(SHA, Uint8Array.of(0xff));
  await store.commitPartial(SHA);
  const back = await store.readArtifact(SHA);
  const equal = back !== null && back.length === bytes.length && back.every((b, i) => b === bytes[i]);
  const freeBytes = await store.freeBytes();
  await store.close();
  const again = await openIndexedDbStore({ name: 'edgefleet-dev-web' });
  const slots = await again.get('slots');
  await again.close();
  return { bits, syncedIntact, restEmpty, equal, slots, freeBytes };
}

Object.assign(globalThis, { idbFill: fill, idbResume: resume });
