// Shared types and timing helpers for `npm run bench` (design §11): every figure is measured against
// its baseline in the same run, interleaved, because these machines are noisy.

/** One result line of bench/results.json. `ratio` is value / baseline. */
export interface BenchEntry {
  value: number;
  unit: string;
  baseline?: number;
  ratio?: number;
  note?: string;
}

/**
 * A benchmark module (any `scripts/bench/*.ts` but run.ts, harness.ts and tests) exports
 * `benchmarks`: name → function. A function returning a record of entries writes them as
 * `<name>.<key>` (e.g. `agent.infer.overhead.tiny`).
 */
export type Benchmark = () => Promise<BenchEntry | Record<string, BenchEntry>>;
export type BenchmarkModule = { benchmarks?: Record<string, Benchmark> };

export function isBenchEntry(x: unknown): x is BenchEntry {
  return typeof x === 'object' && x !== null && typeof (x as BenchEntry).value === 'number' && typeof (x as BenchEntry).unit === 'string';
}

const nowNs = (): bigint => process.hrtime.bigint();

/**
 * Iterations of `op` that take at least `minMs` (doubling from `start`), and the ns per iteration of
 * that last call. `op(iterations)` must do `iterations` units of work.
 */
export function calibrate(op: (iterations: number) => void, minMs = 100, start = 1): { iterations: number; nsPerOp: number } {
  let n = start;
  for (;;) {
    const t0 = nowNs();
    op(n);
    const ns = Number(nowNs() - t0);
    if (ns >= minMs * 1e6 || n >= 2 ** 30) return { iterations: n, nsPerOp: ns / n };
    n = ns < 1e6 ? n * 8 : n * 2;
  }
}

/** Nanoseconds per iteration of one `op(iterations)` call. */
export function timeOnce(op: (iterations: number) => void, iterations: number): number {
  const t0 = nowNs();
  op(iterations);
  return Number(nowNs() - t0) / iterations;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Times a candidate and its baseline in alternating rounds and returns the median ns/op of each, so
 * that drift in machine load hits both alike.
 */
export function compareNsPerOp(
  candidate: (iterations: number) => void,
  baseline: (iterations: number) => void,
  { rounds = 7, minMs = 150, warmupMs = 300 }: { rounds?: number; minMs?: number; warmupMs?: number } = {},
): { candidate: number; baseline: number } {
  // warm both up (JIT: tweetnacl's field arithmetic needs a second or so to be optimized), then
  // size each round from a calibration run
  calibrate(candidate, warmupMs);
  calibrate(baseline, warmupMs);
  const nc = calibrate(candidate, minMs).iterations;
  const nb = calibrate(baseline, minMs).iterations;
  const c: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < rounds; r++) {
    c.push(timeOnce(candidate, nc));
    b.push(timeOnce(baseline, nb));
  }
  return { candidate: median(c), baseline: median(b) };
}

/** Rounds to `digits` significant digits, for readable JSON. */
export function round(x: number, digits = 4): number {
  if (!Number.isFinite(x) || x === 0) return x;
  return Number(x.toPrecision(digits));
}
