// One rollout: what happened and why first (rolled back with its cause and the version the fleet returned to,
// paused, running with its soak countdown), what it rolls out to whom and how, every wave with its frozen
// counts, failed devices and gates, and the operator's actions that mean something now, each saying its effect.

import type { DevicePage, FleetStatus, RolloutAnswer, RolloutOptions } from '../api-types.js';
import { api } from '../api.js';
import { card, el, link, timeCell } from '../dom.js';
import { duration, enc } from '../format.js';
import { maxSoakText, noEvidenceThen, rolloutActions, rolloutOutcome, rolloutProgress, soakText, statusBadge, targetsText, type PreviousVersions } from '../rollout-view.js';
import { canOperate } from '../session.js';
import type { Page, PageController } from './page.js';

const LIVE = new Set(['running', 'soaking', 'paused']);

/** What the devices running the version ran before (their reported previous slot): where an abort sends them. */
async function previousVersions(model: string, version: string): Promise<PreviousVersions> {
  const page = await api<DevicePage>('GET', '/devices?limit=100&model=' + enc(model) + '&version=' + enc(version));
  const out: PreviousVersions = {};
  for (const d of page.devices) {
    const prev = d.reported?.models?.[model]?.previous?.version;
    if (prev) out[prev] = (out[prev] ?? 0) + 1;
  }
  return out;
}

export const pageRollout: Page = (main, args, _params, alive) => {
  const id = args[0] ?? '';
  const box = el('div', { class: 'grid rollout-page' });
  const actions = el('div');
  main.append(actions, box);
  let lastKey: string | null = null;
  // the soak countdown ticks between polls
  const timer = setInterval(() => {
    if (!alive()) return clearInterval(timer);
    for (const n of Array.from(main.querySelectorAll<HTMLElement>('.soak-left[data-ends]'))) n.textContent = soakText(Number(n.dataset.ends));
    for (const n of Array.from(main.querySelectorAll<HTMLElement>('.max-soak-left[data-ends]'))) n.textContent = maxSoakText(Number(n.dataset.ends), n.dataset.then ?? '');
  }, 1000);
  const self: PageController = {
    refresh: () =>
      Promise.all([api<RolloutAnswer>('GET', '/rollouts/' + enc(id)), api<FleetStatus>('GET', '/fleet/status')]).then(async ([answer, fleet]) => {
        if (!alive()) return;
        const r = answer.rollout;
        const previous = canOperate() && LIVE.has(r.status) ? await previousVersions(r.model, r.version) : {};
        if (!alive()) return;
        const opts = (r.options || {}) as RolloutOptions; // desired/desired.ts keeps these request options
        const plan = r.plan ? r.plan.waves : opts.waves || null;
        const all = !plan || (!r.plan && plan.length === 1 && plan[0] === 100);
        const facts = el('dl', { class: 'facts' }, [
          el('dt', { text: 'model version' }),
          el('dd', null, [link('#/model/' + enc(r.model) + '?v=' + enc(r.version), r.model + '@' + r.version), ' as ' + r.role]),
          el('dt', { text: 'status' }),
          el('dd', null, [statusBadge(r.status)]),
          el('dt', { text: 'targets' }),
          el('dd', { text: targetsText(r.targets) + ' (' + r.devices + ' devices now)' }),
          el('dt', { text: 'waves' }),
          el('dd', { text: all ? 'all at once' : plan.join(' → ') + ' %' }),
          ...(r.plan
            ? [
                el('dt', { text: 'soak per wave' }),
                el('dd', { text: duration(r.plan.soakMs / 1000) }),
                el('dt', { text: 'on a failed gate' }),
                el('dd', { text: r.plan.onFail === 'rollback' ? 'roll the wave back' : 'pause' }),
                el('dt', { text: 'gates without evidence' }),
                el('dd', {
                  text:
                    r.plan.maxSoakMs === undefined
                      ? 'pass at the soak’s end'
                      : 'soak on up to ' + duration(r.plan.maxSoakMs / 1000) + ', then ' + noEvidenceThen(r.plan.onNoEvidence),
                }),
              ]
            : []),
          el('dt', { text: 'created' }),
          el('dd', null, [timeCell(r.createdAt)]),
          el('dt', { text: 'updated' }),
          el('dd', null, [timeCell(r.updatedAt)]),
        ]);
        box.replaceChildren(rolloutOutcome(r), card('Rollout ' + r.id, [facts], 'card-rollout'), card('Waves', [rolloutProgress(r, fleet, { detail: true })], 'card-progress'));
        // keep the buttons (and any confirmation in progress) unless what they would do changed
        const bar = rolloutActions(r, previous, () => void self.refresh());
        const key = bar ? Array.from(bar.querySelectorAll('button')).map((b) => b.dataset.action + ':' + (b.dataset.armed ? '' : b.textContent)).join('|') : '';
        if (lastKey !== key) {
          actions.replaceChildren(bar || el('span'));
          lastKey = key;
        }
      }),
  };
  return self;
};
