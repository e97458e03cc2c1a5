// CLI output (design §2): aligned tables, durations, gate values, rollout and health reports.

import type { RolloutDetail } from './api.js';

export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

export function ago(iso: string | number | null | undefined): string {
  if (iso === null || iso === undefined || iso === '') return '-';
  const s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

export const out = (s: string): void => {
  process.stdout.write(s);
};

/** How `json()` prints an API answer: `--json` / `-o json`, or `-o yaml` (the same document as YAML). */
let structured: 'json' | 'yaml' = 'json';
let yamlText: ((v: unknown) => string) | undefined;
export async function setOutput(format: 'json' | 'yaml'): Promise<void> {
  structured = format;
  if (format === 'yaml') yamlText ??= (await import('yaml')).stringify;
}
export const json = (v: unknown): void => out(structured === 'yaml' ? yamlText!(v) : JSON.stringify(v, null, 2) + '\n');
export const fmt = (n: number | null | undefined, digits = 2) => (n === null || n === undefined ? '-' : n.toFixed(digits));

/** A time span for people: 2m 05s, 1h 10m, 45s. */
export function span(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function dur(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** A gate's value and limit in its unit (rates as %, latency regression in %, counts as they are). */
function gateValue(name: string, x: number | null): string {
  if (x === null || x === undefined) return '-';
  if (/rate|agreement|drop|coverage/.test(name)) return `${(x * 100).toFixed(2)}%`;
  if (name === 'p95-latency-regression') return `${x >= 0 ? '+' : ''}${x.toFixed(1)}%`;
  return Number.isInteger(x) ? String(x) : x.toFixed(3);
}

function gateTable(gates: RolloutDetail['gates']): string {
  const rows = [['GATE', 'VALUE', 'LIMIT', 'VERDICT', 'DETAIL']];
  for (const g of gates) {
    // the hub's words for value and limit (rollouts/gates.ts gateText); an older hub sends none
    const limit = g.text?.limit ?? (g.name === 'p95-latency-regression' ? `+${g.limit}%` : g.name === 'min-reporting-devices' || g.name === 'shadow-agreement' ? `≥ ${gateValue(g.name, g.limit)}` : `≤ ${gateValue(g.name, g.limit)}`);
    rows.push([g.name, g.text?.value ?? gateValue(g.name, g.value), limit, g.pass === true ? 'pass' : g.pass === false ? 'FAIL' : 'no verdict', g.detail ?? '']);
  }
  return table(rows);
}

/** "soak on for evidence up to 1h, then pause": the plan's no-evidence part, in `rollout start` and `rollout show`. */
export function evidencePlan(plan: { maxSoakMs?: number; onNoEvidence?: string }): string {
  // an older hub sends neither: it passed a wave without evidence at the soak's end
  if (plan.maxSoakMs === undefined || !plan.onNoEvidence) return 'no evidence: pass';
  return `without evidence soak up to ${dur(plan.maxSoakMs)}, then ${plan.onNoEvidence}`;
}

/** `rollout show`: waves, devices per state, every gate's value against its limit, shadow comparison. */
export function rolloutText(r: RolloutDetail): string {
  let s = `rollout ${r.id}\n  model    ${r.model}@${r.version} (${r.role})\n  status   ${r.status}${r.pausedReason ? ` — ${r.pausedReason}` : ''}${r.supersededBy ? ` by ${r.supersededBy}` : ''}\n`;
  s += `  targets  ${JSON.stringify(r.targets)} (${r.devices} devices)\n  created  ${ago(r.createdAt)} (${r.createdAt})\n`;
  if (!r.plan) return s + '  plan     all at once\n';
  s += `  plan     waves ${r.plan.waves.join(', ')} %, soak ${dur(r.plan.soakMs)}, on fail ${r.plan.onFail}, ${evidencePlan(r.plan)}${r.plan.shadow ? ', shadow' : ''}, device timeout ${dur(r.plan.deviceTimeoutMs)}\n\n`;
  // an ended wave's counts are the ones frozen when it ended (ENDED), not devices' current state
  const rows = [['WAVE', 'PERCENT', 'OUTCOME', 'DEVICES', 'CONVERGED', 'PENDING', 'FAILED', 'SKIPPED', 'LEFT', 'ROLLED BACK', 'STARTED', 'ENDED']];
  for (const w of r.waves) {
    const c = w.counts;
    rows.push([String(w.index + 1), `${w.percent}%`, w.ended?.how ?? w.outcome, String(w.devices), String(c.converged), String(c.pending), String(c.failed), String(c.skipped), String(c.left), String(c.rolledBack ?? 0), ago(w.startedAt), w.ended ? ago(w.ended.at) : '-']);
  }
  s += r.waves.length ? table(rows) : '  no wave started yet\n';
  const current = r.waves[r.waves.length - 1];
  if (r.waitingFor) {
    // design §7: no verdict is not a pass — the wave soaks on until its gates have the evidence, or the max soak ends
    const left = Date.parse(r.waitingFor.until) - Date.now();
    const what = r.waitingFor.missing.map((m) => `${m.text} (${m.gate})`).join(', ');
    s += `  wave ${r.waitingFor.wave + 1} waiting for evidence: ${what}; ${left > 0 ? `${span(left)} left of the max soak ${dur(r.plan.maxSoakMs)}` : 'max soak over'}, then ${r.plan.onNoEvidence}\n`;
  } else if (r.status === 'soaking' && current?.doneAt) {
    const left = new Date(current.doneAt).getTime() + r.plan.soakMs - Date.now();
    s += `  wave ${current.index + 1} soaking: ${left > 0 ? `${span(left)} left of ${dur(r.plan.soakMs)}` : 'soak over, gates judged on the next tick'}\n`;
  }
  for (const w of r.waves) {
    for (const f of w.failures ?? []) s += `  wave ${w.index + 1} failed: ${f.deviceId}${f.code ? ` ${f.code}` : ''}${f.message ? ` — ${f.message}` : ''}\n`;
  }
  if (r.returned?.deviceIds.length) {
    const running = Object.entries(r.returned.running).map(([v, n]) => `${n} on ${v || 'no version'}`).join(', ');
    s += `  returned ${r.returned.deviceIds.length} device${r.returned.deviceIds.length === 1 ? '' : 's'} to what they ran before: ${running}\n`;
  }
  if (current) {
    for (const k of ['pending', 'skipped'] as const) {
      const ids = current.byOutcome[k];
      if (ids.length) s += `  wave ${current.index + 1} ${k}: ${ids.slice(0, 20).join(', ')}${ids.length > 20 ? ` … (+${ids.length - 20})` : ''}\n`;
    }
  }
  if (r.gates?.length) s += `\ngates (latest judged wave)\n${gateTable(r.gates)}`;
  if (r.shadow) {
    const sh = r.shadow;
    s += `\nshadow vs active\n  agreement  ${sh.agreement === null ? '-' : `${(sh.agreement * 100).toFixed(2)}%`} (${sh.agreed} of ${sh.compared} compared)\n`;
    s += `  latency    shadow p50 ${fmt(sh.latencyMs.shadow.p50)} ms, p95 ${fmt(sh.latencyMs.shadow.p95)} ms; active p50 ${fmt(sh.latencyMs.active.p50)} ms, p95 ${fmt(sh.latencyMs.active.p95)} ms\n`;
  }
  return s;
}

