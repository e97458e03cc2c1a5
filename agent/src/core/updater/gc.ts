// Garbage collection of model files on a small disk (design §5).

import type { AgentContext } from '../context.js';

/**
 * Keep what a slot names (active, previous, shadow, pending) and what the desired state wants; delete the
 * rest, partial downloads included (a superseded download's partial would otherwise stay on a small disk
 * for good; one still wanted is kept, so a restart resumes it).
 */
export async function collectGarbage({ state, store }: AgentContext): Promise<void> {
  const keep = new Set<string>();
  for (const s of Object.values(state.slots)) for (const r of [s.active, s.previous, s.shadow, s.pending]) if (r) keep.add(r.sha256);
  for (const m of state.desired?.models ?? []) keep.add(m.manifest.artifact.sha256);
  if (state.download) keep.add(state.download.sha256);
  for (const sha of await store.listPartials()) if (!keep.has(sha)) await store.discardPartial(sha);
  for (const sha of await store.listArtifacts()) {
    if (!keep.has(sha)) {
      await store.deleteArtifact(sha);
      await store.delete(`manifest:${sha}`);
    }
  }
}
