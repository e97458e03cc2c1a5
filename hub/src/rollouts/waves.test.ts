// Wave planning: stable hash assignment, small-fleet quotas, and no reshuffling as the fleet grows.
import { describe, expect, it } from 'vitest';
import { DEFAULT_WAVES, assignWave, hashPoint, planWave, planWaves, validateWaves, waveQuota } from './waves.js';

const ids = (n: number, prefix = 'dev') => Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(4, '0')}`);

describe('assignWave', () => {
  it('spreads devices over waves in proportion to the percents', () => {
    const counts = [0, 0, 0, 0];
    for (const id of ids(20_000)) counts[assignWave('r1', id, DEFAULT_WAVES)]!++;
    // expected 1%, 9%, 40%, 50% of 20 000
    expect(counts[0]).toBeGreaterThan(140);
    expect(counts[0]).toBeLessThan(260);
    expect(counts[1]).toBeGreaterThan(1600);
    expect(counts[1]).toBeLessThan(2000);
    expect(counts[2]).toBeGreaterThan(7700);
    expect(counts[2]).toBeLessThan(8300);
  });

  it('is a function of rollout and device only, and differs between rollouts', () => {
    expect(assignWave('r1', 'dev-7', DEFAULT_WAVES)).toBe(assignWave('r1', 'dev-7', DEFAULT_WAVES));
    const a = ids(200).map((id) => hashPoint('r1', id));
    const b = ids(200).map((id) => hashPoint('r2', id));
    expect(a).not.toEqual(b);
    for (const p of [...a, ...b]) {
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(100);
    }
  });
});

describe('planWave', () => {
  it('gives the 1% wave one device in a fleet of 40 and meets each cumulative quota', () => {
    const fleet = ids(40);
    const plan = planWaves('r1', fleet, DEFAULT_WAVES);
    const sizes = [0, 0, 0, 0];
    for (const w of plan.values()) sizes[w]!++;
    expect(sizes[0]).toBeGreaterThanOrEqual(1);
    let cumulative = 0;
    DEFAULT_WAVES.forEach((pct, k) => {
      cumulative += sizes[k]!;
      expect(cumulative).toBeGreaterThanOrEqual(waveQuota(pct, 40));
    });
    expect(cumulative).toBe(40);
    expect(waveQuota(1, 40)).toBe(1);
    expect(waveQuota(10, 40)).toBe(4);
    expect(waveQuota(100, 40)).toBe(40);
  });

  it('never plans a device later than its hash wave', () => {
    const fleet = ids(57);
    for (const [id, w] of planWaves('r9', fleet, DEFAULT_WAVES)) {
      expect(w).toBeLessThanOrEqual(assignWave('r9', id, DEFAULT_WAVES));
    }
  });

  it('keeps started waves when devices join, and plans the newcomers into waves not yet started', () => {
    const fleet = ids(40);
    const started = new Map<string, number>();
    const assigned = new Set<string>();
    for (const k of [0, 1]) {
      for (const id of planWave('r1', fleet, DEFAULT_WAVES, k, assigned)) {
        started.set(id, k);
        assigned.add(id);
      }
    }
    const grown = [...fleet, ...ids(60, 'new')];
    const plan = planWaves('r1', grown, DEFAULT_WAVES, started);
    for (const [id, w] of started) expect(plan.get(id)).toBe(w);
    for (const id of ids(60, 'new')) expect(plan.get(id)).toBeGreaterThanOrEqual(2);
    expect(plan.size).toBe(100);
  });

  it('moves, as the fleet grows, only devices the small-fleet floor pulled ahead of their hash wave', () => {
    const before = planWaves('r1', ids(2000), DEFAULT_WAVES);
    const after = planWaves('r1', [...ids(2000), ...ids(2000, 'new')], DEFAULT_WAVES);
    let kept = 0;
    for (const [id, w] of before) {
      const hashWave = assignWave('r1', id, DEFAULT_WAVES);
      if (after.get(id) === w) kept++;
      else expect(w !== hashWave || after.get(id) !== hashWave).toBe(true);
    }
    expect(kept).toBeGreaterThan(1990);
  });

  it('rejects plans that do not increase or do not reach 100', () => {
    expect(() => validateWaves([10, 5, 100])).toThrow(/strictly increasing/);
    expect(() => validateWaves([1, 10, 50])).toThrow(/must be 100/);
    expect(() => validateWaves([])).toThrow(/1 to 20/);
    expect(() => validateWaves([0, 100])).toThrow();
    expect(() => validateWaves([25, 100])).not.toThrow();
  });
});
