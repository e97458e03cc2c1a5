// What the demo prints for an operator: rollout waves and gate values as they change,
// a fleet health table (devices, versions, error rate, latency, accuracy, drift) and rollbacks.

import type { FleetStatusView, HealthView, HubClient, RolloutInfo } from '../sim/hub-client.js';
import type { SimulatedFleet } from '../sim/fleet.js';

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const pct = (x: number | null | undefined) => (x === null || x === undefined ? '–' : `${(x * 100).toFixed(1)}%`);
const ms = (x: number | null | undefined) => (x === null || x === undefined ? '–' : `${x.toFixed(2)} ms`);

interface GateView {
  name: string;
  value: number | null;
  limit: number;
  pass: boolean | null;
  detail?: string;
}
interface WaveView {
  index?: number;
  percent?: number;
  /** Devices in the wave (the hub's WaveView), or their ids (the engine's WaveRecord). */
  devices?: number;
  deviceIds?: string[];
  converged?: number;
  counts?: Record<string, number>;
  outcome?: string;
  gates?: GateView[];
}

const waveSize = (w: WaveView) => w.devices ?? w.deviceIds?.length;

/** Waves of a rollout view, wherever the hub puts them (top level or under `state`). */
export function wavesOf(r: RolloutInfo): WaveView[] {
  const w = (r.waves ?? (r.state as { waves?: unknown } | undefined)?.waves) as unknown;
  return Array.isArray(w) ? (w.filter((x) => typeof x === 'object' && x !== null) as WaveView[]) : [];
}

function gateLine(g: GateView): string {
  const verdict = g.pass === true ? 'pass' : g.pass === false ? 'FAIL' : 'no verdict';
  const value = g.value === null ? '–' : Number.isInteger(g.value) ? String(g.value) : g.value.toPrecision(3);
  const detail = g.detail && g.detail.length > 120 ? `${g.detail.slice(0, 117)}…` : g.detail;
  return `      gate ${g.name.padEnd(24)} ${verdict.padEnd(10)} value ${value} (limit ${g.limit})${detail ? ` — ${detail}` : ''}`;
}

/** Prints what changed in a rollout since the last call; returns the new fingerprint. */
export function describeRolloutChange(r: RolloutInfo, previous: string, print: (line: string) => void): string {
  const waves = wavesOf(r);
  const fingerprint = JSON.stringify({
    s: r.status,
    w: waves.map((w) => [w.outcome, waveSize(w), w.converged, (w.gates ?? []).map((g) => [g.name, g.pass])]),
    p: r.pausedReason ?? (r.state as { pausedReason?: unknown } | undefined)?.pausedReason ?? null,
    e: waiting(r)?.missing.map((m) => m.gate) ?? null,
  });
  if (fingerprint === previous) return previous;
  const plan = (r.plan as { waves?: number[] } | null | undefined)?.waves;
  print(`  rollout ${r.id} ${r.model}@${r.version}: ${r.status}${waves.length ? `, wave ${waves.length}${plan ? ` of ${plan.length} (${plan.join('%, ')}%)` : ''}` : ''}`);
  const old = previous ? (JSON.parse(previous) as { w: unknown[] }).w : [];
  waves.forEach((w, i) => {
    // print a wave when it is new or its outcome/gates changed
    if (JSON.stringify(old[i]) === JSON.stringify([w.outcome, waveSize(w), w.converged, (w.gates ?? []).map((g) => [g.name, g.pass])])) return;
    const failed = w.counts?.failed ? `, ${w.counts.failed} failed` : '';
    const converged = w.converged !== undefined ? `, ${w.converged} converged${failed}` : '';
    print(`    wave ${i + 1} (to ${w.percent ?? '?'}% of the targets): ${waveSize(w) ?? '?'} devices${converged} — ${w.outcome ?? '?'}`);
    for (const g of w.gates ?? []) print(gateLine(g));
  });
  const reason = r.pausedReason ?? (r.state as { pausedReason?: unknown } | undefined)?.pausedReason;
  if (typeof reason === 'string' && reason) print(`    reason: ${reason}`);
  // no verdict is not a pass (hub design §7): the wave soaks on for the evidence its gates lack
  const wait = waiting(r);
  if (wait) print(`    wave ${wait.wave + 1} waiting for evidence: ${wait.missing.map((m) => `${m.text} (${m.gate})`).join(', ')}`);
  return fingerprint;
}

/** The hub's `waitingFor` (rollouts/views.ts): gates of the current wave still lacking evidence past the soak. */
const waiting = (r: RolloutInfo) => (r as { waitingFor?: { wave: number; missing: Array<{ gate: string; text: string }> } | null }).waitingFor ?? null;

interface ReportedModelView {
  active?: { version: string } | null;
  state?: string;
  error?: { code: string; message: string } | null;
}

/** The fleet health table: one row per device (hub's view + the stream's counters), then per version. */
export async function healthReport(hub: HubClient, fleet: SimulatedFleet, model: string, drifted: ReadonlySet<string>): Promise<string> {
  const devices = await hub.devices();
  const byId = new Map(fleet.devices.map((d) => [d.id, d]));
  const rows = devices
    .filter((d) => byId.has(d.id))
    .map((d) => {
      const sim = byId.get(d.id)!;
      const m = (d.reported as { models?: Record<string, ReportedModelView> } | null)?.models?.[model];
      return [
        d.id,
        d.tags.site ?? '',
        d.status,
        m?.active?.version ?? '–',
        m?.state ?? '–',
        String(sim.stats.inferences),
        String(sim.stats.errors),
        String(sim.stats.labels),
        drifted.has(d.id) ? 'drifting' : '',
        m?.error ? `${m.error.code}` : '',
      ];
    });
  const out = [table(['device', 'site', 'status', 'active', 'state', 'infer', 'errors', 'labels', 'inputs', 'error'], rows)];
  const status: FleetStatusView = await hub.fleetStatus();
  const vrows: string[][] = [];
  const row = (label: string, devices: string, h: HealthView | null, fallback?: FleetStatusView['health'][number]): string[] => {
    const drift = h ? h.drift.filter((f) => f.verdict === 'drift').map((f) => `${f.feature.replace(/^features\./, '')} PSI ${f.psi.toFixed(2)}>${(f.critical ?? 0).toFixed(2)}`) : [];
    const acc = h?.accuracy;
    const t = h?.totals;
    return [
      label,
      devices,
      String(t?.devices ?? fallback?.reportingDevices ?? 0),
      String(t?.inferences ?? fallback?.inferences ?? 0),
      pct(t ? t.errorRate : fallback?.errorRate),
      ms(t ? t.latencyMs.p50 : fallback?.latencyMs.p50),
      ms(t ? t.latencyMs.p95 : fallback?.latencyMs.p95),
      acc && acc.p !== null ? `${pct(acc.p)} [${pct(acc.low)}, ${pct(acc.high)}] n=${acc.labelled}` : '–',
      h ? (drift.length ? drift.join('; ') : 'none') : '–',
    ];
  };
  const since = String(Date.now() - 120_000);
  for (const v of status.health.filter((h) => h.model === model)) {
    const inUse = status.versions.find((x) => x.version === v.version)?.devices ?? 0;
    const h: HealthView | null = await hub.health(model, v.version, { from: since }).catch(() => null);
    vrows.push(row(`${v.model}@${v.version}`, String(inUse), h, v));
    if (inUse === 0) continue;
    // per device group (design §6): the last 30 s of raw windows per site, where a local drift shows first
    for (const site of [...new Set(devices.map((d) => d.tags.site).filter((s): s is string => Boolean(s)))].sort()) {
      const g = await hub.health(model, v.version, { from: String(Date.now() - 30_000), tag: `site=${site}` }).catch(() => null);
      if (g) vrows.push(row(`  site ${site}, last 30 s`, String(devices.filter((d) => d.tags.site === site).length), g));
    }
  }
  out.push(table(['version', 'devices', 'reporting', 'inferences', 'errors', 'p50', 'p95', 'accuracy (95% CI)', 'drift'], vrows));
  out.push(`  devices ${status.devices.online}/${status.devices.total} online; rollouts ${status.rollouts.active} active of ${status.rollouts.total}`);
  return out.join('\n');
}
