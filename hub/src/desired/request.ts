// The rollout request the API takes (design §7 `POST /rollouts`): model, version, target set and the gated
// options; and the target set as a rollout row stores it.

import { z } from 'zod';
import { DeviceId, ModelName, SemVer } from '@edgefleet/protocol';
import type { RolloutTargets } from '../store/db.js';
import { CapturePolicyRule } from './capture-policies.js';

export const Targets = z
  .object({
    all: z.boolean().optional(),
    tags: z.array(z.record(z.string(), z.string())).max(64).optional(),
    devices: z.array(DeviceId).max(10_000).optional(),
  })
  .refine((t) => t.all === true || (t.tags?.length ?? 0) > 0 || (t.devices?.length ?? 0) > 0, {
    message: 'targets need all: true, tags or devices',
  });

export const RolloutRequest = z.object({
  model: ModelName,
  version: SemVer,
  targets: Targets,
  waves: z.array(z.number().min(0).max(100)).max(20).optional(),
  soak: z.union([z.string().max(16), z.number().min(0)]).optional(),
  onFail: z.enum(['pause', 'rollback']).optional(),
  /** How long a wave whose gates lack evidence keeps soaking for it (≥ soak; default 6 × soak, at most soak + 1 h). */
  maxSoak: z.union([z.string().max(16), z.number().min(0)]).optional(),
  /** At the max soak, gates still lacking evidence: pause (default), pass, or fail (then onFail applies). */
  onNoEvidence: z.enum(['pause', 'pass', 'fail']).optional(),
  shadow: z.boolean().optional(),
  /** Partial gate config (rollouts/gate-config.ts GateConfig); the engine checks names and ranges. */
  gates: z.record(z.string().max(64), z.union([z.number(), z.array(z.string().max(64)).max(16)])).optional(),
  /** How long a sent device may take to converge ("30m", "10s" or ms) before it is skipped (offline) or failed. */
  deviceTimeout: z.union([z.string().max(16), z.number().min(1)]).optional(),
  /** This rollout's capture policy (design §4 capture) for the devices it assigns, ahead of the version's and the hub's. */
  capture: CapturePolicyRule.optional(),
});
export type RolloutRequest = z.infer<typeof RolloutRequest>;

/** The target set as stored on the rollout: only the selectors the request set (empty lists dropped). */
export function rolloutTargets(request: RolloutRequest): RolloutTargets {
  const targets: RolloutTargets = {};
  if (request.targets.all) targets.all = true;
  if (request.targets.tags?.length) targets.tags = request.targets.tags;
  if (request.targets.devices?.length) targets.devices = request.targets.devices;
  return targets;
}
