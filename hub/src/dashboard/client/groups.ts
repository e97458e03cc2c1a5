// Health sliced by a device tag (design §6): the group-by select (tag keys from GET /tags, one choice kept in
// the session for the overview, device table and model page) and, per model version, a table of its tag
// values — devices, error rate, p95, drift (worst feature and its statistic, in the hub's words) and accuracy.

import type { HealthGroups, TagIndex } from './api-types.js';
import { api } from './api.js';
import { el, table } from './dom.js';
import { enc, ms, pct } from './format.js';
import { session } from './session.js';

/** GET /health/groups of one version over [from, to): by the session's tag key, or per device. */
export function groupsFor(model: string, version: string, range: { from: number; to: number }, by: string | null): Promise<HealthGroups> {
  const q = 'model=' + enc(model) + '&version=' + enc(version) + '&from=' + Math.floor(range.from) + '&to=' + Math.ceil(range.to);
  return api<HealthGroups>('GET', '/health/groups?' + q + (by === null ? '&perDevice=true' : '&by=' + enc(by)));
}

/** The group-by select: "no grouping" and every tag key the fleet's devices carry. */
export function groupByPicker(onchange: () => void): HTMLLabelElement {
  const s = el('select', { class: 'group-by', 'aria-label': 'group by tag' }, [el('option', { value: '', text: 'no grouping' })]);
  const fill = (keys: readonly string[]) => {
    // a chosen key no device carries any more is still shown, so the select says what the tables show
    for (const k of session.groupBy && keys.indexOf(session.groupBy) < 0 ? [...keys, session.groupBy] : keys) s.appendChild(el('option', { value: k, text: k }));
    s.value = session.groupBy;
  };
  api<TagIndex>('GET', '/tags').then(
    (t) => fill(t.tags.map((x) => x.key)),
    () => fill([]),
  );
  s.addEventListener('change', () => {
    session.groupBy = s.value;
    onchange();
  });
  return el('label', { class: 'range-picker group-picker' }, ['group by ', s]);
}

/** A drift cell: the hub's text, red when a feature drifted. */
export function driftCell(d: HealthGroups['groups'][number]['drift'] | null): HTMLSpanElement {
  if (!d) return el('span', { class: 'muted drift-cell', text: '–' });
  return el('span', { class: 'drift-cell ' + (d.drifted > 0 ? 'bad' : d.worst ? 'ok' : 'muted'), 'data-drifted': d.drifted, text: d.text });
}

/** One version's groups as a table (cards at phone width), a row per tag value. */
export function groupTable(g: HealthGroups): HTMLElement {
  const key = g.by ?? 'device';
  const rows = g.groups.map((x) =>
    el('tr', { class: 'group-row' + (x.drift.drifted > 0 ? ' drifted' : ''), 'data-group': x.value ?? '', 'data-drifted': x.drift.drifted }, [
      el('td', { class: 'group-value', text: x.value ?? '(no ' + key + ' tag)' }),
      el('td', { text: String(x.devices) }),
      el('td', { class: x.errorRate !== null && x.errorRate > 0.05 ? 'bad' : '', text: pct(x.errorRate, 2) }),
      el('td', { text: ms(x.latencyMs.p95) }),
      el('td', null, [driftCell(x.drift)]),
      el('td', { text: x.accuracy.p === null ? '–' : pct(x.accuracy.p) + ' (' + x.accuracy.labelled + ' labels)' }),
    ]),
  );
  return el('div', { class: 'groups', 'data-model': g.model, 'data-version': g.version, 'data-by': key }, [
    el('h3', { text: g.model + '@' + g.version + ' by ' + key }),
    table([key, 'devices', 'error rate', 'p95 latency', 'drift', 'accuracy'], rows, 'groups cards'),
  ]);
}

/** Group tables of several versions (by the session's key), or nothing when no key is chosen. */
export function groupTables(versions: ReadonlyArray<{ model: string; version: string }>, range: { from: number; to: number }): Promise<HTMLElement[]> {
  const by = session.groupBy;
  if (!by) return Promise.resolve([]);
  return Promise.all(versions.map((v) => groupsFor(v.model, v.version, range, by).then(groupTable)));
}
