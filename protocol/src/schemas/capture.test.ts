import { describe, expect, it } from 'vitest';
import { CaptureRules, captureWithheld } from './capture.js';

describe('captureWithheld', () => {
  it('withholds what the version’s rule leaves off its allow-list, and what any rule of the model redacts or hashes', () => {
    const rules = CaptureRules.parse([
      { model: 'm', version: '1.0.0', features: ['a', 'b', 'c'], redact: ['b'], hash: ['c'] },
      { model: 'm', redact: ['d'] },
      { model: 'other', redact: ['a'] },
    ]);
    const v1 = captureWithheld(rules, 'm', '1.0.0')!;
    expect(['a', 'b', 'c', 'd', 'e'].filter(v1)).toEqual(['b', 'c', 'd', 'e']);
    // another version of m (a shadow, the next release): the first matching rule has no allow-list, but
    // the fields m's rules name stay sensitive
    const v2 = captureWithheld(rules, 'm', '2.0.0')!;
    expect(['a', 'b', 'c', 'd', 'e'].filter(v2)).toEqual(['b', 'c', 'd']);
    expect(captureWithheld(rules, 'plain', '1.0.0')).toBeNull();
    expect(captureWithheld(CaptureRules.parse([{ model: 'm', rate: 1 }]), 'm', '1.0.0')).toBeNull();
    expect(captureWithheld(undefined, 'm', '1.0.0')).toBeNull();
  });
});
