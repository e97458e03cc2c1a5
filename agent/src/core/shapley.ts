// Shapley values over model evaluations (design §5 explanations), pure arithmetic: no model, no I/O.
// A coalition S of features takes x's values for the features in S and the baseline's for the others;
// v(S) is the model's target at that row. φ_i = Σ_{S ∌ i} |S|!·(k−|S|−1)!/k! · (v(S ∪ {i}) − v(S)).

/** How many coalitions an exact explanation evaluates: all 2^k subsets, row r holding the features of bit mask r. */
export function coalitionCount(k: number): number {
  return 2 ** k;
}

/**
 * Exact Shapley values from v over all coalitions: `values[mask]` is v of the features whose bits are set
 * in `mask` (bit i = feature i), so values[0] = f(baseline) and values[2^k − 1] = f(x).
 */
export function exactShapley(values: ArrayLike<number>, k: number): Float64Array {
  const n = coalitionCount(k);
  if (values.length !== n) throw new RangeError(`exact Shapley over ${k} features needs ${n} values, got ${values.length}`);
  // weight(s) = s!(k−s−1)!/k! = 1 / (k · C(k−1, s))
  const weight = new Float64Array(Math.max(k, 1));
  let binom = 1;
  for (let s = 0; s < k; s++) {
    weight[s] = 1 / (k * binom);
    binom = (binom * (k - 1 - s)) / (s + 1);
  }
  const size = new Uint8Array(n);
  for (let m = 1; m < n; m++) size[m] = size[m >> 1]! + (m & 1);
  const phi = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    const bit = 1 << i;
    let acc = 0;
    for (let m = 0; m < n; m++) {
      if (m & bit) continue;
      acc += weight[size[m]!]! * (values[m | bit]! - values[m]!);
    }
    phi[i] = acc;
  }
  return phi;
}

/** `samples` uniform random permutations of 0…k−1 (Fisher–Yates), row-major. */
export function samplePermutations(k: number, samples: number, random: () => number): Uint16Array {
  const out = new Uint16Array(k * samples);
  for (let p = 0; p < samples; p++) {
    const base = p * k;
    for (let i = 0; i < k; i++) out[base + i] = i;
    for (let i = k - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      const t = out[base + i]!;
      out[base + i] = out[base + j]!;
      out[base + j] = t;
    }
  }
  return out;
}

export interface SampledShapley {
  phi: Float64Array;
  /** Standard error of each φ_i: the sample std of its marginal contributions / √samples. */
  standardError: Float64Array;
}

/**
 * Permutation-sampling Shapley (Castro et al. 2009): each permutation adds x's features one at a time,
 * and feature π_j is credited v(π_0…π_j) − v(π_0…π_{j−1}). `prefix[p·(k−1) + j]` is v after the first
 * j + 1 features of permutation p (j < k − 1); the empty and full coalitions are `base` and `full`.
 */
export function sampledShapley(perms: Uint16Array, k: number, prefix: ArrayLike<number>, base: number, full: number): SampledShapley {
  const samples = k === 0 ? 0 : perms.length / k;
  if (prefix.length !== samples * Math.max(k - 1, 0)) throw new RangeError(`sampled Shapley needs ${samples * (k - 1)} prefix values, got ${prefix.length}`);
  const sum = new Float64Array(k);
  const sumSq = new Float64Array(k);
  for (let p = 0; p < samples; p++) {
    let previous = base;
    for (let j = 0; j < k; j++) {
      const current = j === k - 1 ? full : prefix[p * (k - 1) + j]!;
      const d = current - previous;
      const f = perms[p * k + j]!;
      sum[f] = sum[f]! + d;
      sumSq[f] = sumSq[f]! + d * d;
      previous = current;
    }
  }
  const phi = new Float64Array(k);
  const standardError = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    const mean = sum[i]! / samples;
    phi[i] = mean;
    const variance = samples > 1 ? Math.max(0, (sumSq[i]! - samples * mean * mean) / (samples - 1)) : 0;
    standardError[i] = Math.sqrt(variance / samples);
  }
  return { phi, standardError };
}
