// Every model: its versions, the latest push, and how many devices run it.

import type { FleetStatus, ModelList } from '../api-types.js';
import { api } from '../api.js';
import { card, el, link, table, timeCell, tr } from '../dom.js';
import { enc } from '../format.js';
import type { Page } from './page.js';

export const pageModels: Page = (main, _args, _params, alive) => {
  const box = el('div');
  main.appendChild(box);
  return {
    refresh: () =>
      Promise.all([api<ModelList>('GET', '/models'), api<FleetStatus>('GET', '/fleet/status')]).then(([list, fleet]) => {
        if (!alive()) return;
        const inUse: Record<string, number> = {};
        for (const v of fleet.versions) inUse[v.model] = (inUse[v.model] || 0) + v.devices;
        const rows = list.models.map((m) => {
          const last = m.versions[m.versions.length - 1];
          return tr([link('#/model/' + enc(m.name), m.name), m.versions.length, last ? last.version : '–', last ? timeCell(last.createdAt) : '–', inUse[m.name] || 0]);
        });
        box.replaceChildren(card('Models', [table(['model', 'versions', 'latest', 'pushed', 'devices running it'], rows)], 'card-models'));
      }),
    interval: 5000,
  };
};
