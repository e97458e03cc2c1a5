// The update state machine's pure transitions (design §5): planning, activation, probation, crash loops.

import { describe, expect, it } from 'vitest';
import type { Manifest } from '@edgefleet/protocol';
import {
  activated,
  activeRemoved,
  activeUnusable,
  desiredArrived,
  downloadProgressed,
  downloadStarted,
  emptySlot,
  fellBackToPrevious,
  installAbandoned,
  installFailed,
  onAgentStart,
  planUpdates,
  previousUnusable,
  probationPassed,
  probationVerdict,
  refused,
  restingState,
  rolledBack,
  selfTesting,
  settingsOf,
  shadowRemoved,
  shadowStarted,
  verifying,
  type ModelSlot,
  type WantedModel,
} from './update-plan.js';

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

  it('walks an install through downloading, verifying and self-testing, keeping a retry\'s last error', () => {
    const err = { code: 'DOWNLOAD_FAILED' as const, message: 'no chunk' };
    const base: ModelSlot = { ...emptySlot('a'), active: ref('1.0.0', 'a'), error: err };
    const started = downloadStarted(base, ref('2.0.0', 'b'), false, 'r1');
    expect(started).toMatchObject({ pending: ref('2.0.0', 'b'), state: 'downloading', progress: 0, error: null, rolloutId: 'r1' });
    expect(downloadStarted(base, ref('2.0.0', 'b'), true).error).toEqual(err);
    expect('rolloutId' in downloadStarted(base, ref('2.0.0', 'b'), true)).toBe(false);
    expect(downloadProgressed(started, 0.5).progress).toBe(0.5);
    expect(verifying(started)).toMatchObject({ state: 'verifying', progress: 1 });
    expect(selfTesting(verifying(started)).state).toBe('self-testing');
  });

  it('rests at probation, active or idle when an install stops without failing', () => {
    const pending = { pending: ref('3.0.0', 'c'), progress: 0.25, state: 'downloading' as const };
    const onProbation: ModelSlot = { ...emptySlot('a'), ...pending, active: ref('2.0.0', 'b'), probation: { sha256: sha('b'), until: 1, restarts: 0 } };
    expect(restingState(onProbation)).toBe('probation');
    expect(installAbandoned(onProbation)).toMatchObject({ pending: null, progress: undefined, state: 'probation' });
    expect(installAbandoned({ ...onProbation, probation: null }).state).toBe('active');
    expect(installAbandoned({ ...emptySlot('a'), ...pending }).state).toBe('idle');
  });

  it('starts a shadow beside the active version and clears the install', () => {
    const s = shadowStarted({ ...emptySlot('a'), active: ref('1.0.0', 'a'), pending: ref('1.1.0', 's'), state: 'self-testing', error: { code: 'DOWNLOAD_FAILED', message: 'x' } }, ref('1.1.0', 's'));
    expect(s).toMatchObject({ shadow: ref('1.1.0', 's'), active: ref('1.0.0', 'a'), pending: null, error: null, state: 'active' });
    expect(shadowRemoved(s).shadow).toBeNull();
  });

  it('blocks a manifest that fails permanently and reads failed even while the old version serves', () => {
    const serving: ModelSlot = { ...emptySlot('a'), active: ref('1.0.0', 'a'), pending: ref('2.0.0', 'b'), state: 'self-testing' };
    const err = { code: 'SELF_TEST_FAILED' as const, message: 'mismatch' };
    const permanent = installFailed(serving, sha('b'), err, true);
    expect(permanent).toMatchObject({ state: 'failed', pending: null, error: err, blocked: [sha('b')] });
    expect(installFailed(permanent, sha('b'), err, true).blocked).toEqual([sha('b')]);
    // a download that may work next time: the old version keeps the slot active, nothing is blocked
    const transient = installFailed(serving, sha('b'), { code: 'DOWNLOAD_FAILED', message: 'timeout' }, false);
    expect(transient).toMatchObject({ state: 'active', blocked: [] });
    expect(installFailed(emptySlot('a'), sha('b'), { code: 'DOWNLOAD_FAILED', message: 'timeout' }, false).state).toBe('failed');
  });

  it('ends probation, removes what is no longer desired, and reports refusals without touching what runs', () => {
    const p: ModelSlot = { ...emptySlot('a'), active: ref('2.0.0', 'b'), previous: ref('1.0.0', 'a'), state: 'probation', probation: { sha256: sha('b'), until: 1, restarts: 0 } };
    expect(probationPassed(p)).toMatchObject({ state: 'active', probation: null, active: ref('2.0.0', 'b') });
    expect(activeRemoved({ ...p, pending: ref('3.0.0', 'c'), progress: 0.5 })).toMatchObject({ active: null, probation: null, pending: null, progress: undefined, state: 'idle', previous: ref('1.0.0', 'a') });
    const r = refused(p, { code: 'BAD_SIGNATURE', message: 'desired state: bad' });
    expect(r).toMatchObject({ state: 'probation', active: ref('2.0.0', 'b'), error: { code: 'BAD_SIGNATURE' } });
  });

  it('lifts blocks on a newer desired state, keeping the error of a rolled-back or failed slot', () => {
    const err = { code: 'PROBATION_FAILED' as const, message: 'errors' };
    expect(desiredArrived({ ...emptySlot('a'), state: 'rolled-back', error: err, blocked: [sha('b')] })).toMatchObject({ blocked: [], error: err });
    expect(desiredArrived({ ...emptySlot('a'), state: 'failed', error: err }).error).toEqual(err);
    expect(desiredArrived({ ...emptySlot('a'), state: 'active', error: err }).error).toBeNull();
  });

  it('falls back on start from an unusable active file to the previous version, or to nothing', () => {
    const err = { code: 'HASH_MISMATCH' as const, message: 'damaged' };
    const slot: ModelSlot = { ...emptySlot('a'), active: ref('2.0.0', 'b'), previous: ref('1.0.0', 'a'), state: 'probation', probation: { sha256: sha('b'), until: 1, restarts: 0 } };
    const unusable = activeUnusable(slot, err);
    expect(unusable).toMatchObject({ active: null, probation: null, state: 'failed', error: err, previous: ref('1.0.0', 'a') });
    expect(fellBackToPrevious(unusable)).toMatchObject({ active: ref('1.0.0', 'a'), previous: null, state: 'rolled-back', error: err });
    expect(previousUnusable(unusable)).toMatchObject({ active: null, previous: null, state: 'failed' });
  });
});
