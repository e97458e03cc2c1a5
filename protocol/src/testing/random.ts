// Seeded pseudo-random numbers for tests and benchmarks (reproducible trials); not for cryptography.

export { createRng } from '../random.js';

/** Standard normal samples from a uniform source (Box–Muller). */
export function createNormal(uniform: () => number): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const v = spare;
      spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    const theta = 2 * Math.PI * uniform();
    spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  };
}
