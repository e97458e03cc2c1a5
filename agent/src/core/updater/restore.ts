// Start-up (design §5 offline first): the persisted slots are taken up again — crash-loop bookkeeping,
// interrupted installs back to resting — and what is verified on disk is served before any network.
// A damaged active file falls back to the previous version.

import { toEdgefleetError } from '@edgefleet/protocol';
import type { AgentContext } from '../context.js';
import type { Serving } from '../serving.js';
import { activeUnusable, fellBackToPrevious, installAbandoned, onAgentStart, previousUnusable, shadowRemoved, type ModelSlot } from '../update-plan.js';

const INSTALLING = new Set(['downloading', 'verifying', 'self-testing']);

/** Load the slots and their sessions; `crashed`: the last run did not stop cleanly. */
export async function restoreSlots(ctx: AgentContext, serving: Serving, maxRestarts: number, crashed: boolean): Promise<void> {
  const { state, store, emit } = ctx;
  const slots = state.slots;
  const now = ctx.clock.now();
  for (const original of Object.values(slots)) {
    // crash-loop detection and probation bookkeeping (design §5)
    const started = onAgentStart(original, now, maxRestarts, crashed);
    let slot: ModelSlot = started.slot;
    if (started.rollback) emit('rolled-back', `${slot.name}: ${started.rollback}`, { model: slot.name, version: original.active?.version, code: 'PROBATION_FAILED' });
    if (INSTALLING.has(slot.state)) slot = installAbandoned(slot);
    const s = serving.servedOf(slot.name);
    if (slot.active) {
      try {
        s.active = await serving.loadLive(slot.name, slot.active, 'active');
        s.active.onProbation = slot.probation !== null;
      } catch (err) {
        const e = toEdgefleetError(err);
        emit('load-failed', `${slot.name}@${slot.active.version} cannot be served: ${e.message}`, { model: slot.name, version: slot.active.version, code: e.code });
        const bad = slot.active;
        slot = activeUnusable(slot, { code: e.code, message: e.message });
        const prev = slot.previous;
        if (prev) {
          try {
            s.active = await serving.loadLive(slot.name, prev, 'active');
            slot = fellBackToPrevious(slot);
            emit('rolled-back', `${slot.name} ${bad.version} → ${slot.active!.version}: active file unusable`, { model: slot.name, version: bad.version, code: e.code });
          } catch (err2) {
            const e2 = toEdgefleetError(err2);
            emit('load-failed', `${slot.name} previous ${prev.version} cannot be served either: ${e2.message}`, { model: slot.name, code: e2.code });
            slot = previousUnusable(slot);
          }
        }
        await store.deleteArtifact(bad.sha256).catch(() => {}); // damaged: fetch again if still desired
      }
    }
    if (slot.shadow) {
      try {
        s.shadow = await serving.loadLive(slot.name, slot.shadow, 'shadow');
      } catch (err) {
        const e = toEdgefleetError(err);
        emit('load-failed', `shadow ${slot.name}@${slot.shadow.version} cannot be loaded: ${e.message}`, { model: slot.name, code: e.code });
        slot = shadowRemoved(slot);
      }
    }
    slots[slot.name] = slot;
  }
  await ctx.saveSlots();
}
