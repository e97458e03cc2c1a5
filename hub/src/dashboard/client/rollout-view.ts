// A rollout's progress, gates and operator actions (design §7), shared by the overview and the rollout
// pages: gated waves with their gates, or an all-at-once issue whose progress is the devices that run it.

import type { FleetStatus, GateResult, Rollout, RolloutAnswer, RolloutCommand, RolloutStatus, RolloutTargets } from './api-types.js';
import { api, failure } from './api.js';
import { badge, el, table } from './dom.js';
import { enc, fmtNum, pct } from './format.js';
import { canOperate } from './session.js';

const TERMINAL: ReadonlySet<string> = new Set<RolloutStatus>(['completed', 'aborted', 'rolled-back', 'superseded']);
/** Over for good: no more actions (an all-at-once rollout is 'completed' at once and can still be aborted). */
const ENDED: ReadonlySet<string> = new Set<RolloutStatus>(['aborted', 'rolled-back', 'superseded']);

/** Devices that report this model version active (fleet status counts only verified claims). */
function devicesRunning(fleet: FleetStatus, model: string, version: string): number {
  let running = 0;
  for (const v of fleet.versions) if (v.model === model && v.version === version) running = v.devices;
  return running;
}

export function progressBar(done: number, total: number, label?: string): HTMLDivElement {
  const frac = total > 0 ? Math.min(1, done / total) : 0;
  const fill = el('div', { class: 'fill' });
  fill.style.width = (frac * 100).toFixed(1) + '%';
  return el('div', { class: 'progress', 'data-done': done, 'data-total': total }, [
    el('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': total, 'aria-valuenow': done }, [fill]),
    el('span', { class: 'progress-text', text: label || done + ' / ' + total + ' devices' }),
  ]);
}

function gateTable(gates: readonly GateResult[]): HTMLDivElement {
  const rows = gates.map((g) => {
    const ratio = /rate|agreement|drop/.test(g.name);
    const fmtv = (v: number | null) => (v === null ? '–' : ratio ? pct(v, 2) : fmtNum(v));
    return el('tr', { class: 'gate gate-' + g.name }, [
      el('td', { text: g.name, title: g.detail || '' }),
      el('td', { text: fmtv(g.value) }),
      el('td', { text: fmtv(g.limit) }),
      el('td', null, [g.pass === true ? badge('pass', 'ok') : g.pass === false ? badge('fail', 'bad') : badge('no verdict', 'muted')]),
    ]);
  });
  return table(['gate', 'value', 'limit', 'verdict'], rows, 'gates');
}

export function rolloutProgress(r: Rollout, fleet: FleetStatus): HTMLDivElement {
  const out: Node[] = [];
  if (r.waves && r.waves.length) {
    r.waves.forEach((w, i) => {
      const head = el('div', { class: 'wave-head' }, [el('strong', { text: 'Wave ' + (w.index + 1) + ' · ' + w.percent + ' %' }), badge(w.outcome, 'wave-' + w.outcome)]);
      const parts: Node[] = [head, progressBar(w.converged, w.devices)];
      const counts = (['pending', 'converged', 'failed', 'skipped'] as const).map((k) => w.counts[k] + ' ' + k);
      parts.push(el('p', { class: 'muted small', text: counts.join(' · ') }));
      if (w.gates.length) parts.push(gateTable(w.gates));
      out.push(el('div', { class: 'wave', 'data-wave': i }, parts));
    });
  } else {
    // all-at-once: progress is the devices that report the version active, out of the target set
    const running = Math.min(devicesRunning(fleet, r.model, r.version), r.devices);
    const head = el('div', { class: 'wave-head' }, [el('strong', { text: 'All at once' })]);
    out.push(el('div', { class: 'wave', 'data-wave': 0 }, [head, progressBar(running, r.devices, running + ' / ' + r.devices + ' devices run ' + r.version)]));
  }
  if (r.gates && r.gates.length) out.push(el('h3', { text: 'Gates' }), gateTable(r.gates));
  if (r.pausedReason) out.push(el('p', { class: 'warn', text: 'Paused: ' + r.pausedReason }));
  return el('div', { class: 'rollout-progress' }, out);
}

/** Pause / resume / promote / abort (abort asks twice) for an operator; null for a viewer or an ended rollout. */
export function rolloutActions(r: Rollout, after: () => void): HTMLDivElement | null {
  if (!canOperate() || ENDED.has(r.status)) return null;
  const msg = el('span', { class: 'action-status', role: 'status' });
  const call = (action: RolloutCommand) => {
    msg.textContent = action + '…';
    api<RolloutAnswer | null>('POST', '/rollouts/' + enc(r.id) + '/' + action).then(
      (res) => {
        msg.textContent = action + ' done: rollout is ' + (res && res.rollout ? res.rollout.status : 'updated');
        after();
      },
      (e: unknown) => {
        msg.textContent = action + ' refused: ' + failure(e).message;
      },
    );
  };
  const btn = (action: RolloutCommand, label: string) => el('button', { class: 'action action-' + action, 'data-action': action, text: label, onclick: () => call(action) });
  const abort = el('button', {
    class: 'action action-abort danger',
    'data-action': 'abort',
    text: 'Abort…',
    onclick: () => {
      if (abort.dataset.armed) {
        call('abort');
        delete abort.dataset.armed;
        abort.textContent = 'Abort…';
        return;
      }
      abort.dataset.armed = '1';
      abort.textContent = 'Confirm abort';
    },
  });
  const list: Node[] = [];
  if (r.status === 'paused') list.push(btn('resume', 'Resume'));
  else if (!TERMINAL.has(r.status)) list.push(btn('pause', 'Pause'));
  if (r.role === 'shadow') list.push(btn('promote', 'Promote'));
  list.push(abort, msg);
  return el('div', { class: 'actions' }, [el('span', { class: 'muted', text: 'Operator actions:' }), ...list]);
}

/** Running, paused or soaking; or issued all at once with target devices still converging. */
export function inProgress(r: Rollout, fleet: FleetStatus): boolean {
  if (!TERMINAL.has(r.status)) return true;
  if (r.status !== 'completed' || (r.waves && r.waves.length)) return false;
  return devicesRunning(fleet, r.model, r.version) < r.devices;
}

/**
 * A reported model's state: a device that rolled back and now runs its previous version healthily shows
 * as active (the rollback is the note beside it), not a lasting red 'rolled-back'.
 */
export function stateBadge(m: { state: string; active: { version: string } | null; previous?: { version: string } | null }): HTMLSpanElement {
  if (m.state === 'rolled-back' && m.active) {
    const b = badge('active', 'state-active');
    b.title = 'rolled back' + (m.previous ? ' from ' + m.previous.version : '') + '; now runs ' + m.active.version;
    return b;
  }
  return badge(m.state, 'state-' + m.state);
}

export function targetsText(t: RolloutTargets | null | undefined): string {
  if (!t) return '–';
  const parts: string[] = [];
  if (t.all) parts.push('all devices');
  for (const m of t.tags || []) parts.push(Object.entries(m).map(([k, v]) => k + '=' + v).join(','));
  if (t.devices && t.devices.length) parts.push(t.devices.length + ' listed device' + (t.devices.length > 1 ? 's' : ''));
  return parts.join(' or ');
}
