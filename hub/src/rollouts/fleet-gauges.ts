// Fleet gauges ops alert on (`/metrics`, issue 16 §7): rollouts by status, and per model version the devices
// whose reported state runs it (active or shadow) — what the fleet is on now, not what merely reported in a
// window. Read from the store on each scrape (metrics.refresh()); every rollout status is present at 0.

import type { ReportedState } from '@edgefleet/protocol';
import type { HubContext } from '../context.js';
import type { RolloutStatus } from './spec.js';

const STATUSES: readonly RolloutStatus[] = ['running', 'soaking', 'paused', 'completed', 'aborted', 'rolled-back', 'superseded'];

export function registerFleetGauges(ctx: HubContext): void {
  const { store, metrics } = ctx;
  metrics.gaugeAsync('edgefleet_rollouts', 'Rollouts by status.', async () => {
    const counts = new Map<string, number>(STATUSES.map((s) => [s, 0]));
    for (const r of await store.listRollouts()) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
    return [...counts].map(([status, value]) => ({ labels: { status }, value }));
  });
  metrics.gaugeAsync('edgefleet_model_version_devices', 'Devices running each model version, by role (active, shadow), from their reported state.', async () => {
    const counts = new Map<string, { labels: Record<string, string>; value: number }>();
    const add = (model: string, version: string, role: string) => {
      const key = JSON.stringify([model, version, role]);
      const entry = counts.get(key) ?? { labels: { model, version, role }, value: 0 };
      entry.value++;
      counts.set(key, entry);
    };
    for (const d of await store.listDevices()) {
      const models = (d.reported as Partial<ReportedState> | null)?.models ?? {};
      for (const [model, m] of Object.entries(models)) {
        if (m.active) add(model, m.active.version, 'active');
        if (m.shadow) add(model, m.shadow.version, 'shadow');
      }
    }
    return [...counts.values()];
  });
}
