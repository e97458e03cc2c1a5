// From the API's rollout request to the engine (design §2, §7), pure: whether the rollout is gated at all
// and, for a gated one, the engine's resolved spec, its first state and the options as listed.

import { EdgefleetError, parseDuration } from '@edgefleet/protocol';
import type { GatedStart, RolloutRequest } from '../desired/index.js';
import type { GateConfig } from './gate-config.js';
import { DEFAULT_SOAK_MS, createRolloutState, resolveRolloutSpec, type Role, type RolloutSpec, type RolloutState } from './spec.js';
import { DEFAULT_WAVES } from './waves.js';

/** A request's duration ("10m", "30s", "1h", "250ms", "1d" or milliseconds); BAD_INPUT when it is none. */
export function durationField(v: string | number | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number') return v;
  const ms = parseDuration(v);
  if (ms === null) throw new EdgefleetError('BAD_INPUT', `${what}: expected a duration like 30s, 10m, 1h or milliseconds, got ${JSON.stringify(v)}`);
  return ms;
}

export interface StartPlan {
  waves: number[];
  soakMs: number;
  role: Role;
  /** False for `--waves 100 --soak 0` without gates: issued all at once, no engine (design §2). */
  gated: boolean;
}

export function startPlan(request: RolloutRequest): StartPlan {
  const soakMs = durationField(request.soak, 'soak') ?? DEFAULT_SOAK_MS;
  const waves = request.waves ?? [...DEFAULT_WAVES];
  const role = request.shadow ? 'shadow' : 'active';
  // design §2: `--waves 100 --soak 0` keeps the all-at-once deployment (no engine, no gates)
  const gated = !(waves.length === 1 && waves[0] === 100 && soakMs === 0 && !request.gates);
  return { waves, soakMs, role, gated };
}

/** The engine's part of a gated rollout with this id, of a version with this release (BAD_INPUT on a bad plan). */
export function gatedStart(
  request: RolloutRequest,
  plan: StartPlan,
  id: string,
  release: number,
  now: Date,
): GatedStart & { spec: RolloutSpec; state: RolloutState } {
  const deviceTimeoutMs = durationField(request.deviceTimeout, 'deviceTimeout');
  const maxSoakMs = durationField(request.maxSoak, 'maxSoak');
  const spec = resolveRolloutSpec({
    id,
    model: request.model,
    version: request.version,
    release,
    waves: plan.waves,
    soakMs: plan.soakMs,
    ...(request.onFail ? { onFail: request.onFail } : {}),
    ...(maxSoakMs !== undefined ? { maxSoakMs } : {}),
    ...(request.onNoEvidence ? { onNoEvidence: request.onNoEvidence } : {}),
    shadow: request.shadow ?? false,
    ...(request.gates ? { gates: request.gates as Partial<GateConfig> } : {}),
    ...(deviceTimeoutMs !== undefined ? { deviceTimeoutMs } : {}),
  });
  const state = createRolloutState(spec, now.getTime());
  const options: Record<string, unknown> = {
    waves: spec.waves,
    soak: request.soak ?? spec.soakMs,
    onFail: spec.onFail,
    maxSoak: request.maxSoak ?? spec.maxSoakMs,
    onNoEvidence: spec.onNoEvidence,
  };
  if (request.gates) options.gates = request.gates;
  if (request.deviceTimeout !== undefined) options.deviceTimeout = request.deviceTimeout;
  return { spec, state, options };
}
