// One rollout: what it rolls out to whom and how (waves, soak, what a failed gate does), its progress
// and gates, and an operator's actions.

import type { FleetStatus, RolloutAnswer, RolloutOptions } from '../api-types.js';
import { api } from '../api.js';
import { badge, card, el, link, timeCell } from '../dom.js';
import { enc } from '../format.js';
import { rolloutActions, rolloutProgress, targetsText } from '../rollout-view.js';
import type { Page, PageController } from './page.js';

export const pageRollout: Page = (main, args, _params, alive) => {
  const id = args[0] ?? '';
  const box = el('div', { class: 'grid' });
  const actions = el('div');
  main.append(actions, box);
  let lastStatus: string | null = null;
  const self: PageController = {
    refresh: () =>
      Promise.all([api<RolloutAnswer>('GET', '/rollouts/' + enc(id)), api<FleetStatus>('GET', '/fleet/status')]).then(([answer, fleet]) => {
        if (!alive()) return;
        const r = answer.rollout;
        const opts = (r.options || {}) as RolloutOptions; // desired/desired.ts keeps these request options
        const plan = opts.waves || (r.waves && r.waves.length ? r.waves.map((w) => w.percent) : null);
        const facts = el('dl', { class: 'facts' }, [
          el('dt', { text: 'model version' }),
          el('dd', null, [link('#/model/' + enc(r.model) + '?v=' + enc(r.version), r.model + '@' + r.version), ' as ' + r.role]),
          el('dt', { text: 'status' }),
          el('dd', null, [badge(r.status, 'status-' + r.status)]),
          el('dt', { text: 'targets' }),
          el('dd', { text: targetsText(r.targets) + ' (' + r.devices + ' devices now)' }),
          el('dt', { text: 'waves' }),
          el('dd', { text: plan ? plan.join(' → ') + ' %' : 'all at once' }),
          ...(plan || opts.soak !== undefined || opts.onFail
            ? [
                el('dt', { text: 'soak per wave' }),
                el('dd', { text: opts.soak !== undefined ? String(opts.soak) : 'default' }),
                el('dt', { text: 'on a failed gate' }),
                el('dd', { text: opts.onFail || 'pause' }),
              ]
            : []),
          el('dt', { text: 'created' }),
          el('dd', null, [timeCell(r.createdAt)]),
          el('dt', { text: 'updated' }),
          el('dd', null, [timeCell(r.updatedAt)]),
        ]);
        box.replaceChildren(card('Rollout ' + r.id, [facts], 'card-rollout'), card('Progress', [rolloutProgress(r, fleet)], 'card-progress'));
        // keep the buttons (and any confirmation in progress) unless the status changed
        if (lastStatus !== r.status) {
          lastStatus = r.status;
          actions.replaceChildren(rolloutActions(r, () => void self.refresh()) || el('span'));
        }
      }),
  };
  return self;
};
