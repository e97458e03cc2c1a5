// Fleet status (design §7): devices online/offline, versions in use (from reported states),
// and per model version the inference count, error rate and latency quantiles of merged rollups.

import { histogramMergeInto, histogramQuantile, type Histogram, type ReportedState } from '@edgefleet/protocol';
import type { HubContext } from '../context.js';
import { ROLLUP_MS } from './ingest.js';
import { parseStoredWindow } from './fast-check.js';

export interface VersionHealth {
  model: string;
  version: string;
  role: 'active' | 'shadow';
  inferences: number;
  errors: number;
  errorRate: number | null;
  latencyMs: { p50: number | null; p95: number | null; p99: number | null };
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
  health: VersionHealth[];
  rollouts: { total: number; active: number };
  /** Rollouts in progress (gated: running, soaking or paused), with the wave they are at. */
  activeRollouts: Array<{ id: string; model: string; version: string; role: string; status: string; wave: number; waves: number[]; percent: number | null; pausedReason: string | null }>;
}

const LIVE = new Set(['running', 'soaking', 'paused']);

export function fleetStatus(ctx: HubContext, sinceMinutes = 60): FleetStatus {
  const { store } = ctx;
  const devices = store.listDevices();
  const online = devices.filter((d) => d.status === 'online').length;
  const inUse = new Map<string, { model: string; version: string; devices: number }>();
  const released = new Map(store.listAllModelVersions().map((v) => [`${v.model}@${v.version}`, v.sha256]));
  const unknown = new Set<string>();
  for (const d of devices) {
    const reported = d.reported as ReportedState | null;
    for (const [model, m] of Object.entries(reported?.models ?? {})) {
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
  const rows = store.db
    .prepare<[number], { model: string; version: string; role: string; inferences: number; errors: number; body: string }>(
      'SELECT model, version, role, inferences, errors, body FROM rollups WHERE minute >= ? ORDER BY model, version, role',
    )
    .all(since);
  const reporting = store.db
    .prepare<[number], { model: string; version: string; role: string; n: number }>(
      'SELECT model, version, role, COUNT(DISTINCT device_id) AS n FROM rollup_devices WHERE minute >= ? GROUP BY model, version, role',
    )
    .all(since);
  const acc = new Map<string, { model: string; version: string; role: 'active' | 'shadow'; inferences: number; errors: number; hist: Histogram | null }>();
  for (const r of rows) {
    // a rollup this hub could not have written (e.g. stored before its bounds) is left out, never merged
    const w = parseStoredWindow(r.body);
    if (!w) continue;
    const key = `${r.model}\u0000${r.version}\u0000${r.role}`;
    const a = acc.get(key) ?? { model: r.model, version: r.version, role: r.role === 'shadow' ? 'shadow' : 'active', inferences: 0, errors: 0, hist: null };
    a.inferences += r.inferences;
    a.errors += r.errors;
    const h = w.latencyMs;
    if (!a.hist) a.hist = structuredClone(h);
    else {
      try {
        histogramMergeInto(a.hist, h);
      } catch {
        // histograms of different accuracy cannot merge; the first one stands
      }
    }
    acc.set(key, a);
  }
  const health: VersionHealth[] = [...acc.values()].map((a) => {
    return {
      model: a.model,
      version: a.version,
      role: a.role,
      inferences: a.inferences,
      errors: a.errors,
      // `inferences` counts every call, `errors` the failed ones among them (design §6)
      errorRate: a.inferences > 0 ? Math.min(1, a.errors / a.inferences) : a.errors > 0 ? 1 : null,
      latencyMs: {
        p50: a.hist ? histogramQuantile(a.hist, 0.5) : null,
        p95: a.hist ? histogramQuantile(a.hist, 0.95) : null,
        p99: a.hist ? histogramQuantile(a.hist, 0.99) : null,
      },
      reportingDevices: reporting.find((x) => x.model === a.model && x.version === a.version && x.role === a.role)?.n ?? 0,
    };
  });
  const rollouts = store.listRollouts();
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
