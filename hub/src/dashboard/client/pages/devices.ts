// The device table: filters (id, tag, model, version, state, connection) run on the hub one page at a
// time, kept in the URL's hash; typing is debounced, a select applies at once. A drift column (each
// device's worst feature on its active version, last hour) and, grouped by a tag, the page's versions' health.

import type { DevicePage, HealthGroups, ModelList, ModelState } from '../api-types.js';
import { api } from '../api.js';
import { badge, card, el, link, table, timeCell } from '../dom.js';
import { enc, naturalCompare } from '../format.js';
import { driftCell, groupByPicker, groupsFor, groupTables } from '../groups.js';
import { stateBadge } from '../rollout-view.js';
import { session } from '../session.js';
import type { Page } from './page.js';

/** Protocol's model states in its order: the compiler refuses this list if protocol adds or drops one. */
const STATE_ORDER: Record<ModelState, true> = {
  idle: true,
  downloading: true,
  verifying: true,
  'self-testing': true,
  active: true,
  probation: true,
  'rolled-back': true,
  failed: true,
};
const STATES = Object.keys(STATE_ORDER) as ModelState[];

const LIMIT = 50;
const HOUR = 3600e3;

export const pageDevices: Page = (main, _args, params, alive) => {
  const models = el('select', { name: 'model', 'aria-label': 'model' }, [el('option', { value: '', text: 'any model' })]);
  const field = (name: string, label: string, placeholder: string) =>
    el('label', null, [label, el('input', { name, value: params.get(name) || '', 'aria-label': label, placeholder })]);
  const select = (name: string, label: string, options: ReadonlyArray<readonly [string, string]>) => {
    const s = el(
      'select',
      { name, 'aria-label': label },
      options.map((o) => el('option', { value: o[0], text: o[1] })),
    );
    s.value = params.get(name) || '';
    return el('label', null, [label, s]);
  };
  let offset = Number(params.get('offset') || 0) || 0;
  let seq = 0;
  const form = el(
    'form',
    {
      class: 'filters',
      onsubmit: (ev) => {
        ev.preventDefault();
        offset = 0;
        void apply();
      },
    },
    [
      field('q', 'id contains', 'e.g. line-3'),
      field('tag', 'tag', 'key=value'),
      el('label', null, ['model', models]),
      field('version', 'version', '1.2.0'),
      select('state', 'state', [['', 'any state'], ...STATES.map((s) => [s, s] as const)]),
      select('online', 'connection', [['', 'any'], ['true', 'online'], ['false', 'offline']]),
      el('button', { type: 'submit', text: 'Filter' }),
    ],
  );
  const silent = params.get('silentMinutes');
  const result = el('div', { class: 'device-results' });
  const silentNote = silent ? el('p', { class: 'warn', text: 'Showing devices offline and silent for more than ' + silent + ' min. ' }, [link('#/devices', 'Show all')]) : null;
  const groupsBox = el('div', { class: 'group-tables' });
  let groupsAt = 0;
  const picker = groupByPicker(() => {
    groupsBox.replaceChildren();
    groupsAt = 0;
    void load();
  });
  main.appendChild(card('Devices', [form, silentNote, picker, groupsBox, result], 'card-device-table'));
  /** Released versions (model@version): only these have a reference to judge drift against. */
  let released: ReadonlySet<string> | null = null;
  /** Per-device drift of a version, re-read at most every 10 s (one read of that version's raw windows). */
  const drift = new Map<string, { at: number; groups: Promise<HealthGroups> }>();
  const driftOf = (key: string, model: string, version: string): Promise<HealthGroups> => {
    const c = drift.get(key);
    if (c && Date.now() - c.at < 10000) return c.groups;
    const to = Date.now();
    const groups = groupsFor(model, version, { from: to - HOUR, to }, null);
    drift.set(key, { at: Date.now(), groups });
    groups.catch(() => drift.delete(key));
    return groups;
  };
  const modelsLoaded = api<ModelList>('GET', '/models').then(
    (r) => {
      released = new Set((r.models || []).flatMap((m) => m.versions.map((v) => m.name + '@' + v.version)));
      for (const m of r.models || []) models.appendChild(el('option', { value: m.name, text: m.name }));
      models.value = params.get('model') || '';
    },
    () => {},
  );
  let debounce: ReturnType<typeof setTimeout> | undefined;
  const isSelect = (ev: Event) => ev.target instanceof Element && ev.target.tagName === 'SELECT';
  form.addEventListener('input', (ev) => {
    if (isSelect(ev)) return;
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      offset = 0;
      void apply();
    }, 250);
  });
  form.addEventListener('change', (ev) => {
    if (isSelect(ev)) {
      offset = 0;
      void apply();
    }
  });

  function query(): URLSearchParams {
    const q = new URLSearchParams();
    new FormData(form).forEach((v, k) => {
      if (String(v).trim()) q.set(k, String(v).trim());
    });
    if (silent) q.set('silentMinutes', silent);
    return q;
  }

  /** The filters into the hash (a reload or a shared link shows the same page), then load. */
  function apply(): Promise<void> {
    const q = query();
    if (offset) q.set('offset', String(offset));
    history.replaceState(null, '', '#/devices' + (q.toString() ? '?' + q.toString() : ''));
    return load();
  }

  function load(): Promise<void> {
    const q = query();
    q.set('limit', String(LIMIT));
    q.set('offset', String(offset));
    const my = ++seq;
    const t0 = performance.now();
    const qs = q.toString();
    return Promise.all([api<DevicePage>('GET', '/devices?' + qs), modelsLoaded]).then(([r]) => {
      if (!alive() || my !== seq) return; // a newer query is on its way
      // ids in natural order within the page: pump-2 before pump-10
      const versions = new Map<string, { model: string; version: string }>();
      const driftCells: Array<{ device: string; key: string; cell: HTMLElement; label: string }> = [];
      const rows = r.devices.slice().sort((a, b) => naturalCompare(a.id, b.id)).map((d) => {
        const rep = d.reported && d.reported.models ? d.reported.models : {};
        const mods = Object.entries(rep).map(([m, x]) => el('span', { class: 'chip' }, [m + '@' + (x.active ? x.active.version : '–') + ' ', stateBadge(x)]));
        const drifts = Object.entries(rep).flatMap(([m, x]) => {
          if (!x.active || !released || !released.has(m + '@' + x.active.version)) return [];
          const key = m + '@' + x.active.version;
          versions.set(key, { model: m, version: x.active.version });
          const cell = el('span', { class: 'device-drift', 'data-model': m }, [driftCell(null)]);
          driftCells.push({ device: d.id, key, cell, label: Object.keys(rep).length > 1 ? m + ': ' : '' });
          return [cell];
        });
        return el('tr', { 'data-device': d.id }, [
          el('td', null, [link('#/device/' + enc(d.id), d.id)]),
          el('td', null, [badge(d.status, d.status)]),
          el(
            'td',
            null,
            Object.entries(d.tags).map(([k, v]) => el('span', { class: 'chip', text: k + '=' + v })),
          ),
          el('td', null, mods.length ? mods : ['–']),
          el('td', null, [timeCell(d.lastSeen)]),
          el('td', { text: (d.reported && d.reported.agentVersion) || '–' }),
          el('td', { class: 'drift' }, drifts.length ? drifts : ['–']),
        ]);
      });
      const from = r.total ? offset + 1 : 0;
      const to = Math.min(offset + LIMIT, r.total);
      const tbl = table(['device', 'connection', 'tags', 'models', 'last seen', 'agent', 'drift (last hour)'], rows, 'devices');
      const inner = tbl.firstChild as HTMLTableElement;
      inner.setAttribute('data-total', String(r.total));
      inner.setAttribute('data-query', qs);
      const pager = el('div', { class: 'pager' }, [
        el('button', {
          class: 'prev',
          text: '‹ Previous',
          disabled: offset === 0,
          onclick: () => {
            offset = Math.max(0, offset - LIMIT);
            void apply();
          },
        }),
        el('span', { class: 'page-info', text: from + '–' + to + ' of ' + r.total.toLocaleString() + ' devices' }),
        el('button', {
          class: 'next',
          text: 'Next ›',
          disabled: to >= r.total,
          onclick: () => {
            offset += LIMIT;
            void apply();
          },
        }),
      ]);
      result.replaceChildren(pager, tbl);
      inner.setAttribute('data-ms', (performance.now() - t0).toFixed(1));
      // drift cells filled in when their versions' per-device health arrives (the table does not wait)
      const fills = [...versions.entries()].map(([key, v]) =>
        driftOf(key, v.model, v.version).then((g) => {
          if (!alive() || my !== seq) return;
          const byDevice = new Map(g.groups.map((x) => [x.value, x.drift]));
          for (const c of driftCells) if (c.key === key) c.cell.replaceChildren(c.label, driftCell(byDevice.get(c.device) ?? null));
        }),
      );
      if (session.groupBy && Date.now() - groupsAt >= 10000) {
        groupsAt = Date.now();
        const key = session.groupBy;
        const to = Date.now();
        fills.push(
          groupTables([...versions.values()], { from: to - HOUR, to }).then((tables) => {
            if (alive() && key === session.groupBy) groupsBox.replaceChildren(...tables);
          }),
        );
      }
      return Promise.all(fills).then(() => undefined);
    });
  }
  return { refresh: load, interval: 3000 };
};
