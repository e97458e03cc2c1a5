// Fleet status (design §7): devices online/offline, versions in use (from reported states),
// and per model version the inference count, error rate and latency quantiles of merged rollups (the
// same merge and summary as the health API's totals).

import type { ReportedState } from '@edgefleet/protocol';
import type { HubContext } from '../context.js';
import { ROLLUP_MS } from './ingest.js';
import { parseStoredWindow } from './fast-check.js';
import { createHealthMerge, summarizeHealth, type HealthMerge, type HealthSummary } from './merge.js';

/** One model version and role in fleet status: its merged health, summarized. */
export interface FleetVersionHealth extends HealthSummary {
  model: string;
  version: string;
  role: 'active' | 'shadow';
  /** Devices whose current reported (verified) version in this role is this one: what the fleet runs now. */
  running: number;
  /** Devices that sent telemetry for this version in the window: a device that left it still reports it. */
  reportingDevices: number;
}

export interface FleetStatus {
  at: string;
  sinceMinutes: number;
  devices: { total: number; online: number; offline: number };
  versions: Array<{ model: string; version: string; devices: number }>;
  /**
   * Devices whose reported active version is no release of this hub (unknown version, or another artifact
   * than the one signed for it): a device's claim is not evidence, so these are left out of `versions`.
   */
  unknownClaims: number;
  health: FleetVersionHealth[];
  rollouts: { total: number; active: number };
  /** Rollouts in progress (gated: running, soaking or paused), with the wave they are at. */
  activeRollouts: Array<{ id: string; model: string; version: string; role: string; status: string; wave: number; waves: number[]; percent: number | null; pausedReason: string | null }>;
}

const LIVE = new Set(['running', 'soaking', 'paused']);

export async function fleetStatus(ctx: HubContext, sinceMinutes = 60): Promise<FleetStatus> {
  const { store } = ctx;
  const devices = await store.listDevices();
  const online = devices.filter((d) => d.status === 'online').length;
  const inUse = new Map<string, { model: string; version: string; devices: number }>();
  const released = new Map((await store.listAllModelVersions()).map((v) => [`${v.model}@${v.version}`, v.sha256]));
  const unknown = new Set<string>();
  const shadows = new Map<string, number>();
  for (const d of devices) {
    const reported = d.reported as ReportedState | null;
    for (const [model, m] of Object.entries(reported?.models ?? {})) {
      if (m.shadow && released.get(`${model}@${m.shadow.version}`) === m.shadow.sha256) {
        shadows.set(`${model}@${m.shadow.version}`, (shadows.get(`${model}@${m.shadow.version}`) ?? 0) + 1);
      }
      if (!m.active) continue;
      const key = `${model}@${m.active.version}`;
      if (released.get(key) !== m.active.sha256) {
        unknown.add(d.id);
        continue;
      }
      const e = inUse.get(key) ?? { model, version: m.active.version, devices: 0 };
      e.devices++;
      inUse.set(key, e);
    }
  }
  const since = Math.floor((ctx.now().getTime() - sinceMinutes * 60_000) / ROLLUP_MS) * ROLLUP_MS;
  const { rows, reporting } = await store.telemetry.rollupsSince(since);
  const acc = new Map<string, { model: string; version: string; role: 'active' | 'shadow'; merge: HealthMerge }>();
  for (const r of rows) {
    // a rollup this hub could not have written (e.g. stored before its bounds) is left out, never merged
    const w = parseStoredWindow(r.body);
    if (!w) continue;
    const key = `${r.model}\u0000${r.version}\u0000${r.role}`;
    let a = acc.get(key);
    if (!a) acc.set(key, (a = { model: r.model, version: r.version, role: r.role === 'shadow' ? 'shadow' : 'active', merge: createHealthMerge() }));
    a.merge.add('', w);
  }
  const health: FleetVersionHealth[] = [...acc.values()].map((a) => {
    const s = summarizeHealth(a.merge.result());
    return {
      model: a.model,
      version: a.version,
      role: a.role,
      ...s,
      running: (a.role === 'shadow' ? shadows.get(`${a.model}@${a.version}`) : inUse.get(`${a.model}@${a.version}`)?.devices) ?? 0,
      reportingDevices: reporting.find((x) => x.model === a.model && x.version === a.version && x.role === a.role)?.n ?? 0,
    };
  });
  const rollouts = await store.listRollouts();
  return {
    at: ctx.now().toISOString(),
    sinceMinutes,
    devices: { total: devices.length, online, offline: devices.length - online },
    versions: [...inUse.values()].sort((a, b) => a.model.localeCompare(b.model) || a.version.localeCompare(b.version)),
    unknownClaims: unknown.size,
    health,
    rollouts: { total: rollouts.length, active: rollouts.filter((r) => LIVE.has(r.status)).length },
    activeRollouts: rollouts
      .filter((r) => LIVE.has(r.status))
      .map((r) => {
        const state = r.state as { wave: number; pausedReason: string | null } | null;
        const spec = r.spec as { waves: number[] } | null;
        const wave = state?.wave ?? -1;
        return {
          id: r.id,
          model: r.model,
          version: r.version,
          role: r.role,
          status: r.status,
          wave,
          waves: spec?.waves ?? [],
          percent: spec?.waves[wave] ?? null,
          pausedReason: state?.pausedReason ?? null,
        };
      }),
  };
}
