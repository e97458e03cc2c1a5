// Seeded randomness for generated datasets and training: every model and figure is reproducible from a seed.

/** A uniform [0, 1) generator. */
export type Rng = () => number;

/** mulberry32: a tiny 32-bit PRNG, good enough for data generation and shuffling (not for secrets). */
export { createRng as mulberry32 } from '@edgefleet/protocol/testing';

/** Normal sampler (Box–Muller, the second value cached) over a uniform generator. */
export function createNormal(rng: Rng): (mean?: number, sd?: number) => number {
  let spare: number | null = null;
  return (mean = 0, sd = 1) => {
    if (spare !== null) {
      const z = spare;
      spare = null;
      return mean + sd * z;
    }
    let u = 0;
    while (u === 0) u = rng(); // log(0) guard
    const v = rng();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return mean + sd * r * Math.cos(2 * Math.PI * v);
  };
}

/** Fisher–Yates in place. */
export function shuffleInPlace<T extends { length: number; [i: number]: unknown }>(rng: Rng, a: T): T {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a;
}
