import { describe, expect, it } from 'vitest';
import { worstDrift } from './health-groups.js';
import type { FeatureDrift } from './health.js';

const f = (feature: string, psi: number, critical: number | null, verdict: FeatureDrift['verdict'], n = 500): FeatureDrift => ({ feature, psi, js: 0, ks: 0, critical, verdict, n });

describe('worstDrift', () => {
  it('names a drifted feature before a stable one with a higher PSI, and counts drifted of all', () => {
    const d = worstDrift([f('humidity', 0.5, 0.9, 'no-drift'), f('temperature', 0.2, 0.08, 'drift'), f('vibration', 0.1, 0.05, 'drift')]);
    expect(d.worst?.feature).toBe('temperature');
    expect([d.drifted, d.features]).toEqual([2, 3]);
    expect(d.text).toBe('temperature drifted (PSI 0.20 > 0.080), 2 of 3 features');
  });

  it('calls a group stable by its highest PSI relative to the threshold, and says when there is nothing to judge', () => {
    expect(worstDrift([f('a', 0.03, 0.1, 'no-drift'), f('b', 0.02, 0.04, 'no-drift')]).text).toBe('stable (b PSI 0.020 ≤ 0.040)');
    expect(worstDrift([f('a', 0, null, 'insufficient-data', 0)]).text).toBe('too little data');
    expect(worstDrift([]).text).toBe('no drift reference');
  });
});
