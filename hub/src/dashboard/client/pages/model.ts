// One model: its versions with lineage and validation metrics, and the health of the versions picked
// for comparison side by side on shared axes (by default the two newest that devices run), each with
// its health per tag value when a group-by key is chosen.

import type { FleetStatus, HealthGroups, HealthReport, ModelDetail, ModelVersionView } from '../api-types.js';
import { api } from '../api.js';
import { card, el, table, timeCell } from '../dom.js';
import { enc, fmtNum, ms, pct } from '../format.js';
import { shareAxes } from '../charts.js';
import { chosenRange, drawHealth, healthFor, healthParts, isChart, rangePicker } from '../health.js';
import { groupByPicker, groupsFor, groupTable } from '../groups.js';
import { importanceCard } from '../importance.js';
import { session } from '../session.js';
import type { Page, PageController } from './page.js';

function metricText(metrics: Record<string, number> | undefined): string {
  const entries = Object.entries(metrics || {});
  if (!entries.length) return '–';
  return entries.map(([k, v]) => k + ' ' + (/acc|rate|ratio/i.test(k) && v <= 1 ? pct(v, 1) : /ms/i.test(k) ? ms(v) : fmtNum(v))).join(' · ');
}

export const pageModel: Page = (main, args, params, alive) => {
  const name = args[0] ?? '';
  let chosen = params.getAll('v');
  const head = el('div');
  const importance = el('div');
  const cols = el('div', { class: 'compare' });
  main.append(head, importance, cols);
  let chartsAt = 0;
  let chartKey = '';
  const load = () => self.refresh().catch(() => {});
  const groupPicker = groupByPicker(() => {
    chartsAt = 0;
    void load();
  });

  const lineageRow = (v: ModelVersionView, running: Record<string, number>) => {
    const l = v.manifest.lineage || {};
    const box = el('input', {
      type: 'checkbox',
      'aria-label': 'compare ' + v.version,
      checked: chosen.indexOf(v.version) >= 0,
      onchange: () => {
        chosen = box.checked ? chosen.concat([v.version]) : chosen.filter((x) => x !== v.version);
        history.replaceState(null, '', '#/model/' + enc(name) + '?' + chosen.map((x) => 'v=' + enc(x)).join('&'));
        chartsAt = 0;
        void load();
      },
    });
    return el('tr', { 'data-version': v.version }, [
      el('td', null, [box]),
      el('td', { text: v.version }),
      el('td', { text: 'r' + v.release }),
      el('td', null, [timeCell(v.createdAt)]),
      el('td', { text: l.dataset ? l.dataset.id : '–' }),
      el('td', { text: l.run || '–' }),
      el('td', { text: l.commit ? String(l.commit).slice(0, 12) : '–', title: l.commit || '' }),
      el('td', { class: 'metrics', text: metricText(v.metrics) }),
      el('td', { text: String(running[v.version] || 0) }),
      el('td', { class: 'mono', text: v.sha256.slice(0, 12), title: v.sha256 }),
    ]);
  };

  const self: PageController = {
    refresh: () =>
      Promise.all([api<ModelDetail>('GET', '/models/' + enc(name)), api<FleetStatus>('GET', '/fleet/status')]).then(([model, fleet]) => {
        if (!alive()) return;
        const versions = model.versions;
        const running: Record<string, number> = {};
        for (const v of fleet.versions) if (v.model === name) running[v.version] = v.devices;
        if (!chosen.length) {
          const used = versions.filter((v) => running[v.version]).map((v) => v.version);
          chosen = (used.length ? used : versions.map((v) => v.version)).slice(-2);
        }
        importance.replaceChildren(importanceCard(versions, chosen));
        const rows = versions
          .slice()
          .reverse()
          .map((v) => lineageRow(v, running));
        const headers = ['compare', 'version', 'release', 'pushed', 'dataset', 'run', 'commit', 'validation', 'devices', 'sha256'];
        const picker = rangePicker(() => {
          chartsAt = 0;
          void load();
        });
        head.replaceChildren(card(name + ': versions and lineage', [table(headers, rows, 'lineage'), picker, groupPicker], 'card-lineage'));
        // the charts are heavier: again when the choice or range changed, else every 10 s
        const key = chosen.join(',') + '|' + session.range + '|' + session.zoom + '|' + session.groupBy;
        if (Date.now() - chartsAt < 10000 && key === chartKey) return;
        chartsAt = Date.now();
        chartKey = key;
        const pick = versions.filter((v) => chosen.indexOf(v.version) >= 0);
        const by = session.groupBy;
        const range = chosenRange();
        const reports = pick.map((v) =>
          Promise.all([healthFor(name, v.version), by ? groupsFor(name, v.version, range, by) : null]).then(([h, g]): [HealthReport, ModelVersionView, HealthGroups | null] => [h, v, g]),
        );
        return Promise.all(reports).then((hs) => {
          if (!alive()) return;
          // versions side by side share their axes: equal heights mean equal values
          const parts = hs.map(([h, v]) => healthParts(h, v, {}));
          shareAxes(parts.map((p) => p.filter(isChart)));
          cols.replaceChildren(
            ...hs.map(([h, , g], i) => el('section', { class: 'card version-col', 'data-version': h.version }, [el('h2', { text: name + '@' + h.version }), g ? groupTable(g) : null, drawHealth(parts[i] ?? [], {})])),
          );
        });
      }),
    interval: 3000,
  };
  return self;
};
