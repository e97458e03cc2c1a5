// The fleet at a glance: device counts (each a link to those devices), versions in use per model,
// active rollouts with their progress, per-version health, and recent events, alarms and actions.

import type { FleetOverview, FleetStatus, Rollout, RolloutList } from '../api-types.js';
import { api, whoami } from '../api.js';
import { badge, card, el, link, table, tr } from '../dom.js';
import { enc, fmtNum, isBadEvent, ms, pct, when } from '../format.js';
import { inProgress, progressBar, rolloutProgress, targetsText } from '../rollout-view.js';
import { session, view } from '../session.js';
import type { Page } from './page.js';

interface EventItem {
  at: string | null;
  cls: string;
  kind: string;
  text: string;
  href: string | null;
}

/** The rollout id an audited action names, if any. */
function actionTarget(details: unknown): string | null {
  const id = typeof details === 'object' && details !== null ? (details as { id?: unknown }).id : undefined;
  return id ? String(id) : null;
}

/** A rollout action's colour: a rollback or failed gates red, a pause or abort amber, never green. */
function actionSeverity(a: FleetOverview['actions'][number]): string {
  const details = typeof a.details === 'object' && a.details !== null ? (a.details as { pass?: unknown }) : {};
  if (/rolled-back|rollback/.test(a.action) || (a.action === 'rollout.gates' && details.pass === false)) return 'bad';
  if (/abort|pause|fail/.test(a.action)) return 'warn';
  return 'ok';
}

const RECENT_ROLLOUTS = 5;
const BAD_OUTCOME: ReadonlySet<string> = new Set(['rolled-back', 'paused', 'aborted']);

/** The last rollouts, newest first: a live one with its progress, an ended one with its outcome and why. */
function recentRollouts(rollouts: readonly Rollout[], fleet: FleetStatus): HTMLElement {
  const last = rollouts
    .slice()
    .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt))
    .slice(0, RECENT_ROLLOUTS);
  const now = (model: string) =>
    fleet.versions
      .filter((v) => v.model === model)
      .map((v) => v.version + ' (' + v.devices + ')')
      .join(', ') || 'no version reported';
  const items = last.map((r) => {
    const live = inProgress(r, fleet);
    const bad = BAD_OUTCOME.has(r.status);
    const head = el('div', { class: 'rollout-head' }, [link('#/rollout/' + enc(r.id), r.model + '@' + r.version), badge(r.status, 'status-' + r.status), el('span', { class: 'muted small', text: targetsText(r.targets) + ' · ' + when(r.createdAt) })]);
    const parts: Node[] = [head];
    if (bad) {
      parts.push(el('p', { class: 'bad rollout-reason', text: (r.status === 'aborted' ? 'Aborted' : r.status === 'paused' ? 'Paused' : 'Rolled back') + (r.pausedReason ? ': ' + r.pausedReason : '') + ' — ' + r.model + ' now runs ' + now(r.model) }));
    }
    if (live) parts.push(rolloutProgress(r, fleet));
    return el('div', { class: 'rollout' + (bad ? ' rollout-bad' : ''), 'data-rollout': r.id, 'data-status': r.status }, parts);
  });
  return card('Recent rollouts', items.length ? items : [el('p', { class: 'muted', text: 'No rollout yet.' })], 'card-rollouts');
}

function recentEvents(ov: FleetOverview): HTMLElement {
  const items: EventItem[] = [];
  for (const a of ov.alarms) {
    // the alarm's own sentence (where, which feature, statistic > threshold, importance) and when it was raised
    items.push({ at: a.raisedAt, cls: 'bad', kind: 'drift alarm', text: a.message + ' (n = ' + fmtNum(a.n) + ')', href: '#/model/' + enc(a.model) + '?v=' + enc(a.version) });
  }
  for (const e of ov.events) {
    const text = e.deviceId + (e.model ? ' · ' + e.model + (e.version ? '@' + e.version : '') : '') + ': ' + e.message + (e.code ? ' [' + e.code + ']' : '');
    items.push({ at: e.at, cls: isBadEvent(e.type) ? 'bad' : 'ok', kind: e.type, text, href: '#/device/' + enc(e.deviceId) });
  }
  for (const a of ov.actions) {
    const id = actionTarget(a.details);
    items.push({ at: a.at, cls: actionSeverity(a), kind: a.action, text: (id ? id + ' ' : '') + 'by ' + a.actor, href: id ? '#/rollout/' + enc(id) : null });
  }
  items.sort((a, b) => (b.at ? Date.parse(b.at) : Infinity) - (a.at ? Date.parse(a.at) : Infinity));
  const list = items.slice(0, 25).map((it) =>
    el('li', { class: 'event ' + it.cls }, [badge(it.kind, it.cls), it.href ? link(it.href, it.text) : el('span', { text: it.text }), it.at ? el('span', { class: 'muted small', text: ' ' + when(it.at) }) : null]),
  );
  return card('Recent events', [items.length ? el('ul', { class: 'events' }, list) : el('p', { class: 'muted', text: 'Nothing notable.' })], 'card-events');
}

function versionsInUse(fleet: FleetStatus): HTMLElement {
  const byModel: Record<string, FleetStatus['versions']> = {};
  for (const v of fleet.versions) (byModel[v.model] ??= []).push(v);
  const models = Object.entries(byModel).map(([m, versions]) => {
    const total = versions.reduce((s, v) => s + v.devices, 0);
    const rows = versions.map((v) =>
      el('div', { class: 'version-row', 'data-version': v.version }, [el('span', { class: 'v', text: v.version }), progressBar(v.devices, total, v.devices + ' device' + (v.devices === 1 ? '' : 's'))]),
    );
    return el('div', { class: 'model-versions', 'data-model': m }, [el('h3', null, [link('#/model/' + enc(m), m)]), ...rows]);
  });
  return card('Versions in use', models.length ? models : [el('p', { class: 'muted', text: 'No device reports an active model yet.' })], 'card-versions');
}

export const pageOverview: Page = (main, _args, _params, alive) => {
  const box = el('div', { class: 'grid overview' });
  main.appendChild(box);
  return {
    refresh: () =>
      Promise.all([api<FleetStatus>('GET', '/fleet/status'), api<FleetOverview>('GET', '/health/overview'), api<RolloutList>('GET', '/rollouts'), session.role ? null : whoami()]).then(
        ([fleet, ov, list]) => {
          if (!alive()) return;
          const rollouts = list.rollouts || [];
          if (view.whoBox && view.whoBox.firstChild) view.whoBox.firstChild.textContent = session.role;
          const d = ov.devices;
          const stat = (key: string, n: number, label: string, href: string, cls: string) =>
            el('a', { class: 'stat ' + cls, href, 'data-count': key }, [el('span', { class: 'num', text: String(n) }), el('span', { class: 'lbl', text: label })]);
          const devices = card(
            'Devices',
            [
              el('div', { class: 'stats' }, [
                stat('online', d.online, 'online', '#/devices?online=true', 'ok'),
                stat('offline', d.offline, 'offline', '#/devices?online=false', d.offline ? 'warn' : ''),
                stat('silent', d.silent, 'silent > ' + d.silentMinutes + ' min', '#/devices?silentMinutes=' + d.silentMinutes, d.silent ? 'bad' : ''),
                stat('total', d.total, 'registered', '#/devices', ''),
              ]),
            ],
            'card-devices',
          );
          const healthRows = fleet.health.map((h) =>
            tr([
              link('#/model/' + enc(h.model) + '?v=' + enc(h.version), h.model + '@' + h.version),
              h.role,
              h.running,
              h.reportingDevices,
              fmtNum(h.inferences),
              el('span', { class: h.errorRate !== null && h.errorRate > 0.05 ? 'bad' : '', text: pct(h.errorRate, 2) }),
              ms(h.latencyMs.p95),
            ]),
          );
          const health = card('Health, last ' + fleet.sinceMinutes + ' min', [table(['model version', 'role', 'running', 'reporting', 'inferences', 'error rate', 'p95 latency'], healthRows, 'health cards')], 'card-health');
          const ro = recentRollouts(rollouts, fleet);
          const v = ov.verdict;
          const verdict = card(
            'Fleet ' + v.level,
            [v.reasons.length ? el('ul', { class: 'verdict-reasons' }, v.reasons.map((x) => el('li', { class: x.level === 'failing' ? 'bad' : 'warn', text: x.text }))) : el('p', { class: 'ok', text: 'Every running version within its limits; no drift, no silent device.' })],
            'card-verdict verdict-' + v.level,
          );
          box.replaceChildren(verdict, devices, versionsInUse(fleet), ro, health, recentEvents(ov));
        },
      ),
  };
};
