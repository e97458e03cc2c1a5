// Every rollout, newest first.

import type { RolloutList } from '../api-types.js';
import { api } from '../api.js';
import { badge, card, el, link, table, timeCell } from '../dom.js';
import { enc } from '../format.js';
import { targetsText } from '../rollout-view.js';
import type { Page } from './page.js';

export const pageRollouts: Page = (main, _args, _params, alive) => {
  const box = el('div');
  main.appendChild(box);
  return {
    refresh: () =>
      api<RolloutList>('GET', '/rollouts').then((r) => {
        if (!alive()) return;
        const list = (r.rollouts || []).slice().reverse();
        const rows = list.map((x) =>
          el('tr', { 'data-rollout': x.id }, [
            el('td', null, [link('#/rollout/' + enc(x.id), x.id)]),
            el('td', null, [link('#/model/' + enc(x.model) + '?v=' + enc(x.version), x.model + '@' + x.version)]),
            el('td', { text: x.role }),
            el('td', null, [badge(x.status, 'status-' + x.status)]),
            el('td', { text: targetsText(x.targets) }),
            el('td', { text: String(x.devices) }),
            el('td', null, [timeCell(x.createdAt)]),
            el('td', null, [timeCell(x.updatedAt)]),
          ]),
        );
        const headers = ['rollout', 'model version', 'role', 'status', 'targets', 'devices', 'created', 'updated'];
        box.replaceChildren(card('Rollouts', [table(headers, rows, 'rollouts')], 'card-rollout-list'));
      }),
  };
};
