// design §5 "watch and roll back": a version on probation is judged on its error rate until its time is
// up; a failed probation, a rollback command or a crash loop returns to the previous version.

import { toEdgefleetError, type ErrorCode } from '@edgefleet/protocol';
import type { AgentContext, Live } from '../context.js';
import type { Serving } from '../serving.js';
import { probationPassed, probationVerdict, rolledBack } from '../update-plan.js';

export interface Rollbacks {
  /**
   * Return `name` to its previous version. `onlyIfActiveSha`: only while that version is still active
   * (a probation verdict must not undo what a newer desired state installed since).
   */
  rollback(name: string, error: { code: ErrorCode; message: string } | null, reason?: string, onlyIfActiveSha?: string): Promise<void>;
  /** Judge one probation now: pass it, or queue the rollback. */
  judge(name: string): void;
  /** Judge every running probation (each tick). */
  checkProbations(): void;
}

export function createRollbacks(ctx: AgentContext, serving: Serving): Rollbacks {
  const { state } = ctx;

  async function rollback(name: string, error: { code: ErrorCode; message: string } | null, reason?: string, onlyIfActiveSha?: string): Promise<void> {
    const slot = state.slots[name];
    if (!slot?.active || slot.state === 'rolled-back' && !slot.probation && error?.code === 'PROBATION_FAILED') return;
    if (onlyIfActiveSha !== undefined && slot.active.sha256 !== onlyIfActiveSha) return;
    const why = reason ?? error?.message ?? 'rollback';
    if (!slot.previous) {
      ctx.emit('error', `cannot roll back ${name}: no previous version on this device (${why})`, { model: name });
      return;
    }
    const failed = slot.active;
    let live: Live;
    try {
      live = await serving.loadLive(name, slot.previous, 'active');
    } catch (err) {
      const e = toEdgefleetError(err);
      ctx.emit('load-failed', `rollback of ${name} to ${slot.previous.version} failed: ${e.message}`, { model: name, code: e.code });
      return;
    }
    const s = serving.servedOf(name);
    const old = s.active;
    s.active = live;
    s.stats = { inferences: 0, errors: 0 };
    serving.retire(old);
    ctx.setSlot(rolledBack(slot, error ?? null));
    await ctx.saveSlots();
    ctx.emit('rolled-back', `${name} ${failed.version} → ${live.ref.version}: ${why}`, { model: name, version: failed.version, ...(error ? { code: error.code } : {}) });
  }

  function judge(name: string): void {
    const slot = state.slots[name];
    const s = state.served.get(name);
    if (!slot?.probation || !s) return;
    const v = probationVerdict(slot.probation, s.stats, state.settings, ctx.clock.now());
    if (v.kind === 'continue') return;
    if (v.kind === 'pass') {
      if (s.active) s.active.onProbation = false;
      ctx.setSlot(probationPassed(slot));
      void ctx.saveSlots();
      ctx.emit('probation-passed', `${name}@${slot.active?.version} passed probation`, { model: name, version: slot.active?.version });
      return;
    }
    // The rollback runs after whatever is queued before it: if a newer desired state has already
    // switched versions (e.g. the hub rolled this wave back), the verdict is stale and must not undo that.
    const judged = slot.probation.sha256;
    void ctx.enqueue(() => rollback(name, { code: 'PROBATION_FAILED', message: v.reason }, undefined, judged));
  }

  return {
    rollback,
    judge,
    checkProbations() {
      for (const slot of Object.values(state.slots)) {
        if (slot.probation && slot.active?.sha256 === slot.probation.sha256) judge(slot.name);
      }
    },
  };
}
