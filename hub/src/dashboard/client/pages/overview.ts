// The fleet at a glance: device counts (each a link to those devices), versions in use per model,
// active rollouts with their progress, per-version health (with drift, optionally by a tag), and recent
// events, alarms and actions, filtered by severity with routine ones folded.

import type { FleetOverview, FleetStatus, ModelList, Rollout, RolloutList } from '../api-types.js';
import { api, whoami } from '../api.js';
import { badge, card, el, link, table, tr } from '../dom.js';
import { enc, fmtNum, isBadEvent, ms, pct, when } from '../format.js';
import { groupByPicker, groupTables } from '../groups.js';
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
  if (/abort|pause|fail|no-evidence/.test(a.action)) return 'warn';
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
    const live = inProgress(r, fleet, rollouts);
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

/** Which events the list shows: everything, warnings and errors, or errors only. */
type Severity = 'all' | 'warn' | 'bad';
const SEVERITIES: ReadonlyArray<readonly [Severity, string]> = [
  ['all', 'all'],
  ['warn', 'warnings'],
  ['bad', 'errors'],
];
const shown = (cls: string, filter: Severity) => filter === 'all' || cls === 'bad' || (filter === 'warn' && cls === 'warn');

/** Routine (green) items of one kind folded into one line ("12 × activated"), at the place of the newest. */
function foldRoutine(items: readonly EventItem[]): Array<EventItem & { count: number }> {
  const out: Array<EventItem & { count: number }> = [];
  const byKind = new Map<string, EventItem & { count: number }>();
  for (const it of items) {
    if (it.cls !== 'ok') {
      out.push({ ...it, count: 1 });
      continue;
    }
    const g = byKind.get(it.kind);
    if (g) g.count++;
    else {
      const first = { ...it, count: 1 };
      byKind.set(it.kind, first);
      out.push(first);
    }
  }
  return out;
}

const EVENTS_SHOWN = 25;

function recentEvents(ov: FleetOverview, filter: Severity, filters: HTMLElement): HTMLElement {
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
  // routine ones folded first, so a burst of them cannot push a drift alarm or a rollback off the list
  const folded = foldRoutine(items.filter((it) => shown(it.cls, filter)));
  const list = folded.slice(0, EVENTS_SHOWN).map((it) =>
    el('li', { class: 'event ' + it.cls + (it.count > 1 ? ' event-group' : ''), 'data-kind': it.kind, 'data-count': it.count }, [
      badge(it.count > 1 ? it.count + ' × ' + it.kind : it.kind, it.cls),
      it.count > 1 ? el('span', { class: 'muted', text: 'latest: ' }) : null,
      it.href ? link(it.href, it.text) : el('span', { text: it.text }),
      it.at ? el('span', { class: 'muted small', text: ' ' + when(it.at) }) : null,
    ]),
  );
  const empty = items.length ? 'No ' + (filter === 'bad' ? 'errors' : 'warnings or errors') + ' among the recent events.' : 'Nothing notable.';
  return card('Recent events', [filters, list.length ? el('ul', { class: 'events' }, list) : el('p', { class: 'muted', text: empty })], 'card-events');
}

/** The severity filter: a button per choice, the pressed one the list's filter (kept across refreshes). */
function severityFilter(current: () => Severity, choose: (s: Severity) => void): HTMLElement {
  const buttons = SEVERITIES.map(([value, label]) =>
    el('button', {
      type: 'button',
      class: 'sev-filter sev-' + value,
      'data-severity': value,
      'aria-pressed': String(current() === value),
      text: label,
      onclick: () => {
        choose(value);
        for (const b of buttons) b.setAttribute('aria-pressed', String(b.getAttribute('data-severity') === value));
      },
    }),
  );
  return el('div', { class: 'event-filters', role: 'group', 'aria-label': 'event severity' }, buttons);
}

/** The overview's drift cell of a version: its worst drift alarm (PSI over the threshold), else none. */
function driftOfVersion(ov: FleetOverview, model: string, version: string): HTMLElement {
  const alarms = ov.alarms.filter((a) => a.model === model && a.version === version).sort((a, b) => b.psi / (b.critical || 1) - a.psi / (a.critical || 1));
  const a = alarms[0];
  if (!a) return el('span', { class: 'drift-cell ok', 'data-drifted': 0, text: 'none' });
  const more = alarms.length > 1 ? ', ' + alarms.length + ' features' : '';
  return el('span', { class: 'drift-cell bad', 'data-drifted': alarms.length, text: a.feature + ' drifted (PSI ' + fmtNum(a.psi) + ' > ' + fmtNum(a.critical) + ')' + more });
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
  // made once: the page re-renders every refresh, these keep the viewer's choices and the loaded tables
  let severity: Severity = 'all';
  let last: FleetOverview | null = null;
  let eventsCard: HTMLElement | null = null;
  const filters = severityFilter(
    () => severity,
    (s) => {
      severity = s;
      if (last && eventsCard) {
        const fresh = recentEvents(last, severity, filters);
        eventsCard.replaceWith(fresh);
        eventsCard = fresh;
      }
    },
  );
  const groupsBox = el('div', { class: 'group-tables' });
  let groupsAt = 0;
  const groupPicker = groupByPicker(() => {
    groupsBox.replaceChildren();
    void loadGroups();
  });
  let fleetNow: FleetStatus | null = null;
  /** The health table's versions by the chosen tag (released versions only: the others have no reference). */
  function loadGroups(): Promise<void> {
    const fleet = fleetNow;
    if (!fleet || !session.groupBy) return Promise.resolve(groupsBox.replaceChildren());
    const key = session.groupBy;
    groupsAt = Date.now();
    return api<ModelList>('GET', '/models').then((m) => {
      const released = new Set(m.models.flatMap((x) => x.versions.map((v) => x.name + '@' + v.version)));
      const versions = fleet.health.filter((h) => h.role === 'active' && released.has(h.model + '@' + h.version));
      const to = Date.now();
      return groupTables(versions, { from: to - fleet.sinceMinutes * 60e3, to }).then((tables) => {
        if (!alive() || key !== session.groupBy) return;
        groupsBox.replaceChildren(...tables);
      });
    });
  }
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
              h.role === 'active' ? driftOfVersion(ov, h.model, h.version) : '–',
            ]),
          );
          fleetNow = fleet;
          last = ov;
          const health = card(
            'Health, last ' + fleet.sinceMinutes + ' min',
            [groupPicker, table(['model version', 'role', 'running', 'reporting', 'inferences', 'error rate', 'p95 latency', 'drift'], healthRows, 'health cards'), groupsBox],
            'card-health',
          );
          const ro = recentRollouts(rollouts, fleet);
          const v = ov.verdict;
          const verdict = card(
            'Fleet ' + v.level,
            [v.reasons.length ? el('ul', { class: 'verdict-reasons' }, v.reasons.map((x) => el('li', { class: x.level === 'failing' ? 'bad' : 'warn', text: x.text }))) : el('p', { class: 'ok', text: 'Every running version within its limits; no drift, no silent device.' })],
            'card-verdict verdict-' + v.level,
          );
          eventsCard = recentEvents(ov, severity, filters);
          box.replaceChildren(verdict, devices, versionsInUse(fleet), ro, health, eventsCard);
          // the group tables (a read of raw windows per version) at most every 10 s while a key is chosen
          return session.groupBy && Date.now() - groupsAt >= 10000 ? loadGroups() : undefined;
        },
      ),
  };
};
