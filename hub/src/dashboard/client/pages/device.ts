// One device: connection, tags, agent and resources, its reported models, recent events, and the
// health charts of each model it runs (and of a shadow beside it), measured on this device only; for an
// operator, a one-time link (and its QR code) that enrols a browser (or phone) as this device.

import type { DeviceDetail, EnrolmentCreated, HealthReport } from '../api-types.js';
import { ApiError, api, failure } from '../api.js';
import { badge, card, el, link, table, timeCell, tr } from '../dom.js';
import { bytes, duration, enc, isBadEvent, pct, when } from '../format.js';
import { stateBadge } from '../rollout-view.js';
import { qrCode } from '../qr.js';
import { healthBlock, healthFor, rangePicker } from '../health.js';
import { canOperate } from '../session.js';
import type { Page } from './page.js';

type Reported = NonNullable<DeviceDetail['device']['reported']>;

function resourcesText(r: Reported['resources']): string {
  const parts = [
    r.diskFreeBytes !== undefined ? bytes(r.diskFreeBytes) + ' disk free' : null,
    r.rssBytes !== undefined ? bytes(r.rssBytes) + ' RSS' : null,
    r.uptimeSeconds !== undefined ? 'up ' + duration(r.uptimeSeconds) : null,
  ];
  return parts.filter(Boolean).join(' · ') || '–';
}

function facts(d: DeviceDetail['device']): HTMLElement {
  const rep: Partial<Reported> = d.reported || {};
  const tags = Object.entries(d.tags);
  const dl = el('dl', { class: 'facts' }, [
    el('dt', { text: 'connection' }),
    el('dd', null, [badge(d.status, d.status), ' since ', timeCell(d.statusAt)]),
    el('dt', { text: 'last seen' }),
    el('dd', null, [timeCell(d.lastSeen)]),
    el('dt', { text: 'tags' }),
    el('dd', null, tags.length ? tags.map(([k, v]) => el('span', { class: 'chip', text: k + '=' + v })) : ['none']),
    el('dt', { text: 'registered' }),
    el('dd', null, [timeCell(d.createdAt)]),
    el('dt', { text: 'agent' }),
    el('dd', { text: rep.agentVersion ? rep.agentVersion + ' · ' + rep.runtime + ' · ' + rep.platform : 'no report yet' }),
    el('dt', { text: 'desired sequence' }),
    el('dd', { text: (d.desiredSequence === null ? '–' : d.desiredSequence) + ' (applied ' + (rep.desiredSequence === undefined ? '–' : rep.desiredSequence) + ')' }),
    el('dt', { text: 'reported' }),
    el('dd', null, [timeCell(d.reportedAt)]),
    ...(rep.resources ? [el('dt', { text: 'resources' }), el('dd', { text: resourcesText(rep.resources) })] : []),
  ]);
  return card('Device ' + d.id, [dl], 'card-device');
}

/** The link is shown here once (the hub keeps only the code's hash); making another one is one click. */
function enrolCard(id: string): HTMLElement {
  const status = el('span', { class: 'action-status', role: 'status' });
  const shown = el('div', { class: 'enrol-link' });
  const create = () => {
    status.textContent = 'creating…';
    api<EnrolmentCreated>('POST', '/devices/' + enc(id) + '/enrolment', {}).then(
      (r) => {
        status.textContent = '';
        const url = el('input', { class: 'mono enrol-url', readonly: true, value: r.url, 'aria-label': 'one-time enrolment link' });
        const copy = el('button', {
          class: 'action action-copy',
          text: 'Copy',
          onclick: () => {
            url.select();
            navigator.clipboard.writeText(r.url).then(
              () => (copy.textContent = 'Copied'),
              () => (copy.textContent = 'Selected: copy it'),
            );
          },
        });
        shown.replaceChildren(
          el('div', { class: 'actions' }, [url, copy]),
          qrCode(r.url, 'the one-time enrolment link as a QR code'),
          el('p', { class: 'muted small', text: 'Open it once on the device before ' + when(r.expiresAt) + '. Using it replaces the device’s token: an agent running with the old one is disconnected.' }),
        );
      },
      (e: unknown) => {
        status.textContent = 'refused: ' + failure(e).message;
      },
    );
  };
  const button = el('button', { class: 'action action-enrol', text: 'Enrol a browser device', onclick: create });
  return card('Enrol a browser device', [el('p', { class: 'muted small', text: 'A one-time link to the hub’s device page: the tab that opens it becomes this device.' }), el('div', { class: 'actions' }, [button, status]), shown], 'card-enrol');
}

export const pageDevice: Page = (main, args, _params, alive) => {
  const id = args[0] ?? '';
  const top = el('div', { class: 'grid' });
  const charts = el('div', { class: 'device-charts' });
  main.append(top, ...(canOperate() ? [enrolCard(id)] : []), charts);
  let chartsAt = 0;
  let missing = false;
  return {
    refresh: () =>
      // an unknown id says so once and stops asking (the shell keeps ticking, this page stays quiet)
      missing ? Promise.resolve() : api<DeviceDetail>('GET', '/devices/' + enc(id)).then((r) => {
        if (!alive()) return;
        const d = r.device;
        const models = (d.reported || {}).models || {};
        const v = (i: { version: string; release: number } | null | undefined) => (i ? i.version + ' (r' + i.release + ')' : '–');
        const reportedRows = Object.entries(models).map(([m, x]) =>
          tr([
            link('#/model/' + enc(m) + (x.active ? '?v=' + enc(x.active.version) : ''), m),
            v(x.active),
            v(x.previous),
            v(x.shadow),
            v(x.pending) + (x.progress !== undefined && x.pending ? ' ' + pct(x.progress, 0) : ''),
            stateBadge(x),
            x.error ? x.error.code + ': ' + x.error.message : '–',
          ]),
        );
        const reported = card('Reported models', [table(['model', 'active', 'previous', 'shadow', 'pending', 'state', 'error'], reportedRows)], 'card-reported');
        const eventRows = r.events.map((e) =>
          el('tr', { class: isBadEvent(e.type) ? 'bad' : '' }, [
            el('td', null, [timeCell(e.at)]),
            el('td', null, [badge(e.type, isBadEvent(e.type) ? 'bad' : 'ok')]),
            el('td', { text: e.model ? e.model + (e.version ? '@' + e.version : '') : '–' }),
            el('td', { text: e.message + (e.code ? ' [' + e.code + ']' : '') }),
          ]),
        );
        const events = card('Recent events', [table(['time', 'event', 'model', 'message'], eventRows)], 'card-device-events');
        top.replaceChildren(facts(d), reported, events);
        // charts are heavier: every 10 s
        if (Date.now() - chartsAt < 10000) return;
        chartsAt = Date.now();
        // the active version of every model, and a shadow beside it when there is one
        const targets: Array<{ model: string; version: string; role: 'active' | 'shadow' }> = [];
        for (const [m, x] of Object.entries(models)) {
          if (x.active) targets.push({ model: m, version: x.active.version, role: 'active' });
          if (x.shadow) targets.push({ model: m, version: x.shadow.version, role: 'shadow' });
        }
        const reports = targets.map((t) => healthFor(t.model, t.version, '&device=' + enc(id) + '&role=' + t.role).then((h): [typeof t, HealthReport] => [t, h]));
        return Promise.all(reports).then((hs) => {
          if (!alive()) return;
          charts.replaceChildren(
            ...hs.map(([t, h]) =>
              card(
                t.model + '@' + t.version + (t.role === 'shadow' ? ' (shadow)' : '') + ' on this device',
                [
                  rangePicker(() => {
                    chartsAt = 0;
                  }),
                  healthBlock(h, null, { compact: true }),
                ],
                'card-device-health',
              ),
            ),
          );
        });
      }, (e: unknown) => {
        if (!(e instanceof ApiError && e.status === 404)) throw e;
        missing = true;
        main.replaceChildren(card('No such device', [el('p', { class: 'no-such-device', text: 'No device ' + id + ' is registered on this hub.' }), link('#/devices', 'All devices')], 'card-missing'));
      }),
  };
};
