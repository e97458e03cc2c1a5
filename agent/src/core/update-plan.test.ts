// The update state machine's pure transitions (design §5): planning, activation, probation, crash loops.

import { describe, expect, it } from 'vitest';
import type { Manifest } from '@edgefleet/protocol';
import { activated, emptySlot, onAgentStart, planUpdates, probationVerdict, rolledBack, settingsOf, type ModelSlot, type WantedModel } from './update-plan.js';

const sha = (c: string): string => c.repeat(64);
const wanted = (model: string, version: string, s: string, role: 'active' | 'shadow' = 'active'): WantedModel => ({
  manifest: { model, version, release: 1, artifact: { sha256: sha(s) } } as unknown as Manifest,
  envelope: { payload: '', signatures: [{ keyId: '0'.repeat(16), sig: '' }] },
  role,
});
const ref = (version: string, s: string) => ({ version, release: 1, sha256: sha(s) });

describe('update plan', () => {
  it('installs what differs, skips what runs and what was rolled back, removes what is no longer named', () => {
    const slots: Record<string, ModelSlot> = {
      a: { ...emptySlot('a'), active: ref('1.0.0', 'a') },
      b: { ...emptySlot('b'), active: ref('1.0.0', 'b'), blocked: [sha('c')] },
      gone: { ...emptySlot('gone'), active: ref('1.0.0', 'd'), shadow: ref('2.0.0', 'e') },
    };
    const plan = planUpdates(slots, [wanted('a', '1.0.0', 'a'), wanted('b', '2.0.0', 'c'), wanted('n', '1.0.0', 'f'), wanted('n', '1.1.0', '1', 'shadow')]);
    expect(plan.install.map((t) => `${t.manifest.model}@${t.manifest.version}/${t.role}`)).toEqual(['n@1.0.0/active', 'n@1.1.0/shadow']);
    expect(plan.removeActive).toEqual(['gone']);
    expect(plan.removeShadow).toEqual(['gone']);
  });

  it('keeps the replaced version as previous and puts the new one on probation', () => {
    const s = activated({ ...emptySlot('a'), active: ref('1.0.0', 'a') }, ref('2.0.0', 'b'), 1000, settingsOf({ probationSeconds: 10 }));
    expect(s.previous?.version).toBe('1.0.0');
    expect(s.state).toBe('probation');
    expect(s.probation).toEqual({ sha256: sha('b'), until: 11_000, restarts: 0 });
    // a first install has nothing to return to: no probation
    expect(activated(emptySlot('a'), ref('1.0.0', 'a'), 0, settingsOf(undefined)).state).toBe('active');
  });

  it('fails probation on the error rate only after enough inferences, passes when the time is up', () => {
    const p = { sha256: sha('b'), until: 10_000, restarts: 0 };
    const st = settingsOf({ probationMinInferences: 10, probationMaxErrorRate: 0.2 });
    expect(probationVerdict(p, { inferences: 5, errors: 5 }, st, 0).kind).toBe('continue');
    expect(probationVerdict(p, { inferences: 10, errors: 3 }, st, 0).kind).toBe('fail');
    expect(probationVerdict(p, { inferences: 10, errors: 2 }, st, 0).kind).toBe('continue');
    expect(probationVerdict(p, { inferences: 10, errors: 2 }, st, 10_000).kind).toBe('pass');
  });

  it('rolls back to the previous version and blocks the failed manifest', () => {
    const s = rolledBack(
      { ...emptySlot('a'), active: ref('2.0.0', 'b'), previous: ref('1.0.0', 'a'), state: 'probation', probation: { sha256: sha('b'), until: 1, restarts: 0 } },
      { code: 'PROBATION_FAILED', message: 'too many errors' },
    );
    expect(s.active?.version).toBe('1.0.0');
    expect(s.state).toBe('rolled-back');
    expect(s.blocked).toEqual([sha('b')]);
    expect(planUpdates({ a: s }, [wanted('a', '2.0.0', 'b')]).install).toEqual([]);
  });

  it('counts unclean restarts during probation and rolls back on the third', () => {
    let slot: ModelSlot = { ...emptySlot('a'), active: ref('2.0.0', 'b'), previous: ref('1.0.0', 'a'), state: 'probation', probation: { sha256: sha('b'), until: 100, restarts: 0 } };
    expect(onAgentStart(slot, 0, 3, false).slot.probation?.restarts).toBe(0); // clean restart: maintenance
    for (let i = 1; i <= 2; i++) {
      const r = onAgentStart(slot, 0, 3, true);
      expect(r.rollback).toBeUndefined();
      slot = r.slot;
      expect(slot.probation?.restarts).toBe(i);
    }
    const r = onAgentStart(slot, 0, 3, true);
    expect(r.rollback).toMatch(/crash loop/);
    expect(r.slot.active?.version).toBe('1.0.0');
    // after probation ended, a restart is just a restart
    expect(onAgentStart({ ...slot }, 100, 3, true).slot.state).toBe('active');
  });
});
