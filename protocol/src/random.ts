// Seeded pseudo-random numbers: reproducible sampling on any device (sampled explanations, design §5),
// and the generator behind tests and benchmarks. Not for cryptography.

/** mulberry32: a tiny 32-bit PRNG; returns uniform floats in [0, 1). */
export function createRng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
