// A rollout's progress, gates and operator actions (design §7), shared by the overview and the rollout
// pages: gated waves with their gates, or an all-at-once issue whose progress is the devices that run it.

import type { FleetStatus, GateResult, Rollout, RolloutAnswer, RolloutCommand, RolloutStatus, RolloutTargets, WaveView } from './api-types.js';
import { api, failure } from './api.js';
import { badge, el, link, table } from './dom.js';
import { countdown, enc, fmtNum, pct, when } from './format.js';
import { canOperate } from './session.js';

const TERMINAL: ReadonlySet<string> = new Set<RolloutStatus>(['completed', 'aborted', 'rolled-back', 'superseded']);
/** Where an operator action means something: a completed, aborted, rolled-back or superseded rollout has none. */
const LIVE: ReadonlySet<string> = new Set<RolloutStatus>(['running', 'soaking', 'paused']);

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

/** What a status is called on the pages. */
export const STATUS_LABEL: Readonly<Record<string, string>> = {
  running: 'Running',
  soaking: 'Soaking',
  paused: 'Paused',
  completed: 'Completed',
  aborted: 'Aborted',
  'rolled-back': 'Rolled back',
  superseded: 'Superseded',
};

export const statusBadge = (status: string): HTMLSpanElement => badge(STATUS_LABEL[status] ?? status, 'status-' + status);

type Gate = GateResult & { text?: { value: string; limit: string } };

/** Value and limit in the gate's unit: the hub's words (gates.ts gateText); an older hub sends none. */
function gateWords(g: Gate): { value: string; limit: string } {
  if (g.text) return g.text;
  const ratio = /rate|agreement|drop/.test(g.name);
  const fmtv = (v: number | null) => (v === null ? '–' : ratio ? pct(v, 2) : fmtNum(v));
  return { value: fmtv(g.value), limit: fmtv(g.limit) };
}

/** Gates with value, limit, verdict and (on the rollout page) the detail text, visible rather than in a tooltip. */
function gateTable(gates: readonly Gate[], detail: boolean): HTMLDivElement {
  const rows = gates.map((g) => {
    const w = gateWords(g);
    return el('tr', { class: 'gate gate-' + g.name, 'data-gate': g.name, 'data-pass': String(g.pass) }, [
      el('td', { text: g.name, title: detail ? null : g.detail || '' }),
      el('td', { class: 'gate-value', text: w.value }),
      el('td', { class: 'gate-limit', text: w.limit }),
      el('td', null, [g.pass === true ? badge('pass', 'ok') : g.pass === false ? badge('fail', 'bad') : badge('no verdict', 'muted')]),
      ...(detail ? [el('td', { class: 'gate-detail small', text: g.detail || '' })] : []),
    ]);
  });
  return table(detail ? ['gate', 'value', 'limit', 'verdict', 'detail'] : ['gate', 'value', 'limit', 'verdict'], rows, 'gates' + (detail ? ' cards' : ''));
}

/** The wave's failed devices with what each reported, each linked to its device page. */
function failureTable(w: WaveView): HTMLDivElement {
  const rows = w.failures.map((f) =>
    el('tr', { class: 'failed-device', 'data-device': f.deviceId }, [
      el('td', null, [link('#/device/' + enc(f.deviceId), f.deviceId)]),
      el('td', { class: 'mono', text: f.code || '–' }),
      el('td', { text: f.message || 'no reason reported' }),
    ]),
  );
  return table(['failed device', 'code', 'cause'], rows, 'failures cards');
}

/** When the wave's soak ends, for a wave soaking now (not one soaking on past it for evidence: evidenceWait). */
function soakEnds(r: Rollout, w: WaveView): number | null {
  if (r.status !== 'soaking' || w.outcome !== 'soaking' || !w.doneAt || !r.plan) return null;
  if (r.waitingFor && r.waitingFor.wave === w.index) return null;
  return Date.parse(w.doneAt) + r.plan.soakMs;
}

/** What the wave does at the max soak when gates still lack evidence, in words. */
export const noEvidenceThen = (policy: string | undefined): string => (policy === 'pass' ? 'pass the wave' : policy === 'fail' ? 'fail the wave' : 'pause');

/** "max soak: 4 min 10 s left, then pause"; the page's timer updates every `.max-soak-left` from its data-ends. */
export function maxSoakText(ends: number, then: string, now = Date.now()): string {
  const left = (ends - now) / 1000;
  return left > 0 ? 'max soak: ' + countdown(left) + ' left, then ' + then : 'max soak over: ' + then + ' on the next tick';
}

/**
 * Design §7, no verdict is not a pass: "Waiting for evidence: 92 of 100 inferences (error-rate)" with the max soak's
 * countdown and what happens then; null unless this wave soaks on past its soak for gates that lack evidence.
 */
function evidenceWait(r: Rollout, w: WaveView | undefined): HTMLElement | null {
  const wait = r.waitingFor;
  if (!wait || !w || wait.wave !== w.index || !r.plan) return null;
  const then = noEvidenceThen(r.plan.onNoEvidence);
  const ends = Date.parse(wait.until);
  return el('p', { class: 'evidence-wait warn', 'data-wave': w.index }, [
    'Waiting for evidence: ' + wait.missing.map((m) => m.text + ' (' + m.gate + ')').join(', ') + ' · ',
    el('span', { class: 'max-soak-left', 'data-ends': ends, 'data-then': then, text: maxSoakText(ends, then) }),
  ]);
}

/** "soaking: 1 min 20 s left"; the page's timer updates every `.soak-left` from its data-ends. */
export function soakText(ends: number, now = Date.now()): string {
  const left = (ends - now) / 1000;
  return left > 0 ? 'soaking: ' + countdown(left) + ' left' : 'soak over: gates are judged on the next tick';
}

/** Counts of a wave as one line: 3 devices: 1 failed · 2 pending · 3 sent back. */
function countsLine(w: WaveView): string {
  const c = w.counts;
  const parts = (['converged', 'pending', 'failed', 'skipped', 'left'] as const).filter((k) => c[k] > 0 || k === 'converged').map((k) => c[k] + ' ' + k);
  if (c.rolledBack) parts.push(c.rolledBack + ' sent back');
  return w.devices + ' device' + (w.devices === 1 ? '' : 's') + ': ' + parts.join(' · ') + (w.ended ? ' (frozen when the wave ended, ' + w.ended.how + ')' : '');
}

/**
 * The device-failure gate counts decided devices when it was judged; a paused wave's counts keep moving after.
 * Says so when the two differ, so "1 of 1 devices" beside "3 failed" is not a contradiction.
 */
function gateCountsNote(w: WaveView): HTMLElement | null {
  const g = w.gates.find((x) => x.name === 'device-failure-rate');
  if (!g || g.value === null || g.of === undefined) return null;
  const failed = Math.round(g.value * g.of);
  const decided = w.counts.converged + w.counts.failed;
  const at = w.gatesAt ? ' at ' + when(w.gatesAt) : '';
  if (failed === w.counts.failed && g.of === decided) return el('p', { class: 'muted small gate-note', text: 'Gates judged' + at + ' on these counts: ' + failed + ' failed of ' + g.of + ' decided.' });
  return el('p', { class: 'warn small gate-note', text: 'Gates judged' + at + ' on ' + failed + ' failed of ' + g.of + ' decided; the wave now counts ' + w.counts.failed + ' failed of ' + decided + ' decided.' });
}

export function rolloutProgress(r: Rollout, fleet: FleetStatus, options: { detail?: boolean } = {}): HTMLDivElement {
  const detail = !!options.detail;
  const out: Node[] = [];
  if (r.waves && r.waves.length) {
    r.waves.forEach((w, i) => {
      const head = el('div', { class: 'wave-head' }, [el('strong', { text: 'Wave ' + (w.index + 1) + ' · ' + w.percent + ' %' }), badge(w.ended ? w.ended.how : w.outcome, 'wave-' + (w.ended ? w.ended.how : w.outcome))]);
      const ends = soakEnds(r, w);
      if (ends !== null) head.append(el('span', { class: 'soak-left warn', 'data-ends': ends, text: soakText(ends) }));
      const parts: Node[] = [head, progressBar(w.converged, w.devices)];
      const wait = evidenceWait(r, w);
      if (wait) parts.push(wait);
      parts.push(el('p', { class: 'muted small wave-counts', text: countsLine(w) }));
      if (detail && w.failures && w.failures.length) parts.push(failureTable(w));
      if (detail && w.byOutcome && w.byOutcome.rolledBack.length) {
        parts.push(el('p', { class: 'small sent-back' }, ['Sent back to the version before: ', ...w.byOutcome.rolledBack.flatMap((id, k) => [k ? ', ' : '', link('#/device/' + enc(id), id)])]));
      }
      if (w.gates.length) {
        if (detail) {
          const note = gateCountsNote(w);
          if (note) parts.push(note);
        }
        parts.push(gateTable(w.gates, detail));
      }
      out.push(el('div', { class: 'wave', 'data-wave': i, 'data-outcome': w.ended ? w.ended.how : w.outcome }, parts));
    });
  } else {
    // all-at-once: progress is the devices that report the version active, out of the target set
    const running = Math.min(devicesRunning(fleet, r.model, r.version), r.devices);
    const head = el('div', { class: 'wave-head' }, [el('strong', { text: 'All at once' })]);
    out.push(el('div', { class: 'wave', 'data-wave': 0 }, [head, progressBar(running, r.devices, running + ' / ' + r.devices + ' devices run ' + r.version)]));
  }
  // the rollout page shows every wave's gates; the overview the latest judged ones
  if (!detail && r.gates && r.gates.length) out.push(el('h3', { text: 'Gates' }), gateTable(r.gates, false));
  if (!detail && r.pausedReason) out.push(el('p', { class: r.status === 'paused' ? 'warn' : 'bad', text: (STATUS_LABEL[r.status] ?? r.status) + ': ' + r.pausedReason }));
  return el('div', { class: 'rollout-progress' }, out);
}

/** "2.0.0 (3 devices)" from returned.running; '' is a device reporting no active version. */
function runningText(running: Record<string, number>): string {
  return Object.entries(running)
    .sort((a, b) => b[1] - a[1])
    .map(([v, n]) => (v || 'no active version') + ' (' + n + ' device' + (n === 1 ? '' : 's') + ')')
    .join(', ');
}

/**
 * What happened to the rollout and why, first on its page: rolled back (red) with the failing gates, the devices'
 * causes and the version the fleet returned to; aborted; paused with its reason; superseded; completed; running.
 */
export function rolloutOutcome(r: Rollout): HTMLElement {
  const cls = r.status === 'rolled-back' || r.status === 'aborted' ? 'bad' : r.status === 'paused' ? 'warn' : r.status === 'completed' ? 'ok' : '';
  const parts: Node[] = [el('h2', { class: 'outcome-title ' + cls, text: STATUS_LABEL[r.status] ?? r.status })];
  const waves = r.waves || [];
  const last = waves[waves.length - 1];
  if (r.pausedReason && r.status !== 'completed') parts.push(el('p', { class: 'outcome-reason ' + cls, text: r.pausedReason }));
  if (r.status === 'rolled-back' || r.status === 'paused') {
    const failing = waves.flatMap((w) => w.gates.filter((g) => g.pass === false).map((g) => ({ w, g })));
    const judged = failing.filter((f) => f.w === last).length ? failing.filter((f) => f.w === last) : failing;
    if (judged.length) {
      parts.push(el('ul', { class: 'outcome-gates' }, judged.map(({ g }) => el('li', { 'data-gate': g.name, text: g.name + ': ' + gateWords(g).value + ', limit ' + gateWords(g).limit + ' — ' + g.detail }))));
    }
    const failures = waves.flatMap((w) => w.failures || []);
    if (failures.length) {
      const byCode = new Map<string, typeof failures>();
      for (const f of failures) byCode.set(f.code || 'no code', [...(byCode.get(f.code || 'no code') ?? []), f]);
      parts.push(
        el('ul', { class: 'outcome-causes' }, [...byCode].map(([code, fs]) => el('li', { text: fs.length + ' device' + (fs.length === 1 ? '' : 's') + ' failed with ' + code + ', e.g. ' + fs[0]!.deviceId + ': ' + (fs[0]!.message || 'no reason reported') }))),
      );
    }
  }
  if (r.returned && r.returned.deviceIds.length) {
    const n = r.returned.deviceIds.length;
    const running = runningText(r.returned.running);
    const versions = Object.keys(r.returned.running).filter((v) => v && v !== r.version);
    parts.push(
      el('p', { class: 'outcome-returned' }, [
        versions.length === 1 ? el('strong', { text: 'The fleet returned to ' + versions[0] + '. ' }) : null,
        n + ' device' + (n === 1 ? ' was' : 's were') + ' sent back to the version before; they run ' + running + ' now.',
      ]),
    );
  }
  if (r.status === 'superseded' && r.supersededBy) parts.push(el('p', null, ['Superseded by ', link('#/rollout/' + enc(r.supersededBy), r.supersededBy), ': its devices keep what they were sent.']));
  if (r.status === 'completed' && waves.length) parts.push(el('p', { class: 'ok', text: 'Every wave passed' + (last && last.ended ? ' (last one ' + when(last.ended.at) + ')' : '') + '.' }));
  if ((r.status === 'running' || r.status === 'soaking') && last) {
    parts.push(el('p', { text: 'Wave ' + (last.index + 1) + ' of ' + (r.plan ? r.plan.waves.length : waves.length) + ' (' + last.percent + ' %).' }));
    const ends = soakEnds(r, last);
    if (ends !== null) parts.push(el('p', { class: 'soak-left warn', 'data-ends': ends, text: soakText(ends) }));
    const wait = evidenceWait(r, last);
    if (wait) parts.push(wait);
  }
  return el('section', { class: 'card card-outcome outcome-' + r.status, 'data-status': r.status }, parts);
}

const plural = (n: number, one: string) => n + ' ' + one + (n === 1 ? '' : 's');

/** The versions the devices running `r.version` would go back to (their reported previous), for the abort's words. */
export type PreviousVersions = Record<string, number>;

/** Operator actions that mean something for the rollout's status, each saying its effect; null when none. */
export function rolloutActions(r: Rollout, previous: PreviousVersions, after: () => void): HTMLDivElement | null {
  if (!canOperate() || !LIVE.has(r.status)) return null;
  const waves = r.waves || [];
  const cur = waves[waves.length - 1];
  const reached = waves.reduce((n, w) => n + w.devices - (w.counts ? w.counts.rolledBack : 0), 0);
  const notSent = Math.max(0, r.devices - waves.reduce((n, w) => n + w.devices, 0));
  const back = Object.keys(previous).filter((v) => v !== r.version);
  const backTo = back.length === 1 ? back[0]! : back.length ? back.join(' or ') : 'the version each ran before';
  const msg = el('span', { class: 'action-status', role: 'status' });
  const call = (action: RolloutCommand) => {
    msg.textContent = action + '…';
    api<RolloutAnswer | null>('POST', '/rollouts/' + enc(r.id) + '/' + action).then(
      (res) => {
        msg.textContent = action + ' done: rollout is ' + (res && res.rollout ? (STATUS_LABEL[res.rollout.status] ?? res.rollout.status) : 'updated');
        after();
      },
      (e: unknown) => {
        msg.textContent = action + ' refused: ' + failure(e).message;
      },
    );
  };
  const btn = (action: RolloutCommand, label: string, cls = '') => el('button', { class: 'action action-' + action + (cls ? ' ' + cls : ''), 'data-action': action, text: label, onclick: () => call(action) });
  const abortLabel = 'Abort: stop here and send the ' + plural(reached, 'device') + ' it reached back to ' + backTo + (notSent ? '; ' + plural(notSent, 'target device') + ' not yet sent stay as they are' : '');
  const abort = el('button', {
    class: 'action action-abort danger',
    'data-action': 'abort',
    text: abortLabel + '…',
    onclick: () => {
      if (abort.dataset.armed) {
        call('abort');
        delete abort.dataset.armed;
        abort.textContent = abortLabel + '…';
        return;
      }
      abort.dataset.armed = '1';
      abort.textContent = 'Confirm abort (' + plural(reached, 'device') + ' back to ' + backTo + ')';
    },
  });
  const list: Node[] = [];
  const next = cur ? cur.index + 2 : 1;
  if (r.status === 'paused') {
    if (cur && cur.outcome === 'no-evidence') {
      const missing = cur.gates.filter((g) => g.pass === null && g.missing).map((g) => g.name).join(', ');
      list.push(btn('resume', 'Override and resume: count wave ' + (cur.index + 1) + ' as passed without the evidence ' + (missing || 'its gates lacked') + ' still lacked and go on' + (notSent ? ' to wave ' + next + ' (' + plural(notSent, 'device') + ' still to send)' : '')));
    } else if (cur && cur.outcome === 'failed') {
      const names = cur.gates.filter((g) => g.pass === false).map((g) => g.name).join(', ');
      list.push(btn('resume', 'Override and resume: count wave ' + (cur.index + 1) + ' as passed despite ' + (names || 'its failed gates') + ' and go on' + (notSent ? ' to wave ' + next + ' (' + plural(notSent, 'device') + ' still to send)' : '')));
    } else list.push(btn('resume', 'Resume: carry on with wave ' + (cur ? cur.index + 1 : 1) + (notSent ? '; ' + plural(notSent, 'device') + ' still to send' : '')));
  } else {
    list.push(btn('pause', 'Pause: start no further wave' + (cur ? ' (wave ' + (cur.index + 1) + '’s ' + plural(cur.devices, 'device') + ' keep what they were sent)' : '') + ' until resumed'));
  }
  if (r.role === 'shadow') list.push(btn('promote', 'Promote: make ' + r.version + ' active on the devices running it as shadow, and send it active from now on'));
  list.push(abort, msg);
  return el('div', { class: 'actions' }, [el('span', { class: 'muted', text: 'Operator actions:' }), ...list]);
}

/** Running, paused or soaking; or issued all at once with target devices still converging and no later rollout of its model (`all`). */
export function inProgress(r: Rollout, fleet: FleetStatus, all: readonly Rollout[] = []): boolean {
  if (!TERMINAL.has(r.status)) return true;
  if (r.status !== 'completed' || (r.waves && r.waves.length)) return false;
  // a later rollout of the same model moved the fleet on: the devices will never converge on this one
  if (all.some((o) => o.model === r.model && Date.parse(o.createdAt) > Date.parse(r.createdAt))) return false;
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
