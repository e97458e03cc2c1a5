// Wave planning for gated rollouts (design §7): which devices go in which wave, by a stable hash of
// rollout id and device id, so re-planning with a grown or shrunk target set never reshuffles devices.

import { EdgefleetError } from '@edgefleet/protocol';

/** Cumulative percents a rollout goes through when none are given (design §7). */
export const DEFAULT_WAVES: readonly number[] = [1, 10, 50, 100];

/**
 * Checks a wave plan: 1–20 cumulative percents in (0, 100], strictly increasing, ending at 100
 * (a rollout that never reaches 100% would never complete). Throws BAD_INPUT.
 */
export function validateWaves(waves: readonly number[]): void {
  if (waves.length === 0 || waves.length > 20) {
    throw new EdgefleetError('BAD_INPUT', `waves: need 1 to 20 percents, got ${waves.length}`);
  }
  let prev = 0;
  for (const w of waves) {
    if (!Number.isFinite(w) || w <= prev || w > 100) {
      throw new EdgefleetError(
        'BAD_INPUT',
        `waves: cumulative percents must be strictly increasing in (0, 100], got [${waves.join(', ')}]`,
      );
    }
    prev = w;
  }
  if (prev !== 100) {
    throw new EdgefleetError('BAD_INPUT', `waves: the last wave must be 100, got [${waves.join(', ')}]`);
  }
}

/**
 * 32-bit FNV-1a over the UTF-16 code units, then murmur3's fmix32 finalizer: FNV alone barely moves
 * the high bits for ids that differ in their last character (device-001, device-002), and the high
 * bits are what `hashPoint` keeps.
 */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The device's point in [0, 100) for this rollout: uniform over devices, independent across rollouts. */
export function hashPoint(rolloutId: string, deviceId: string): number {
  return (hash32(`${rolloutId}\u0000${deviceId}`) / 0x1_0000_0000) * 100;
}

/**
 * The device's *hash wave*: the first wave whose cumulative percent exceeds its point. A function of
 * (rollout, device, waves) only — the fleet's size and membership never change it.
 */
export function assignWave(rolloutId: string, deviceId: string, waves: readonly number[]): number {
  const p = hashPoint(rolloutId, deviceId);
  for (let k = 0; k < waves.length; k++) if (p < waves[k]!) return k;
  return waves.length - 1;
}

/** Devices ordered by hash point (ties by id): the order in which a rollout reaches them. */
export function hashOrder(rolloutId: string, deviceIds: Iterable<string>): string[] {
  const keyed = [...new Set(deviceIds)].map((id) => ({ id, p: hashPoint(rolloutId, id) }));
  keyed.sort((a, b) => a.p - b.p || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return keyed.map((k) => k.id);
}

/** Devices a wave must have reached cumulatively: ceil(pct·N/100), so 1% of 40 devices is 1, not 0. */
export function waveQuota(percent: number, targetCount: number): number {
  return Math.min(targetCount, Math.ceil((percent * targetCount) / 100 - 1e-9));
}

/**
 * The devices that join wave `k` when it starts.
 *
 * Scheme (stable under growth): a device belongs to wave k when its hash wave is ≤ k — that alone
 * never depends on the fleet — and, only where that leaves the waves so far short of their quota
 * ceil(cum_k·N/100) (small fleets: 1% of 40 devices is 0.4 expected hash members), the lowest-point
 * not-yet-assigned devices are pulled in until the quota is met. So a device never goes *later* than
 * its hash wave, it goes earlier only to fill a small fleet's quota, and since every started wave's
 * membership is frozen in the rollout state (`alreadyAssigned`), nothing that was sent ever moves.
 * Devices added to the target set after their hash wave started join the next wave that starts
 * (or, after completion, converge directly).
 *
 * @param targets the current target set (N = its size, including already-assigned devices)
 * @param alreadyAssigned devices of waves that already started (frozen), never returned again
 */
export function planWave(
  rolloutId: string,
  targets: Iterable<string>,
  waves: readonly number[],
  k: number,
  alreadyAssigned: ReadonlySet<string>,
): string[] {
  const ordered = hashOrder(rolloutId, targets);
  const cum = waves[Math.min(k, waves.length - 1)]!;
  const quota = waveQuota(cum, ordered.length);
  let reached = 0;
  for (const id of ordered) if (alreadyAssigned.has(id)) reached++;
  const out: string[] = [];
  const rest: string[] = [];
  for (const id of ordered) {
    if (alreadyAssigned.has(id)) continue;
    if (assignWave(rolloutId, id, waves) <= k) out.push(id);
    else rest.push(id);
  }
  reached += out.length;
  // small-fleet floor: top up from the lowest hash points not yet reached
  for (const id of rest) {
    if (reached >= quota) break;
    out.push(id);
    reached++;
  }
  return out;
}

/**
 * The whole plan as it stands (for display): wave index per device, with `frozen` devices kept where
 * they were sent and the remaining waves planned as `planWave` would start them today.
 */
export function planWaves(
  rolloutId: string,
  targets: Iterable<string>,
  waves: readonly number[],
  frozen: ReadonlyMap<string, number> = new Map(),
): Map<string, number> {
  const all = [...new Set(targets)];
  const plan = new Map<string, number>();
  const assigned = new Set<string>();
  for (const id of all) {
    const w = frozen.get(id);
    if (w !== undefined) {
      plan.set(id, w);
      assigned.add(id);
    }
  }
  const firstOpen = frozen.size === 0 ? 0 : Math.max(...frozen.values()) + 1;
  for (let k = firstOpen; k < waves.length; k++) {
    for (const id of planWave(rolloutId, all, waves, k, assigned)) {
      plan.set(id, k);
      assigned.add(id);
    }
  }
  return plan;
}
