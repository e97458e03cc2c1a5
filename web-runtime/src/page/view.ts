// The device view: connection, storage, model versions and slot states with download progress, recent
// events, and one inference form per active model built from its manifest's inputs.

import type { DeviceEvent } from '@edgefleet/protocol';
import type { AgentClient, Role } from '../client.js';
import type { AgentSnapshot, ModelInfo } from '../messages.js';
import { bytes, el, replace } from './dom.js';
import { describeTensor, tensorFromText } from './feeds.js';

const MAX_EVENTS = 50;

export interface DeviceView {
  role(r: Role): void;
  state(s: AgentSnapshot): void;
  event(e: DeviceEvent): void;
  fatal(e: { code: string; message: string }): void;
}

export function deviceView(root: HTMLElement, deviceId: string, client: AgentClient): DeviceView {
  const roleEl = el('span', { id: 'role' }, 'starting');
  const connEl = el('span', { id: 'connection', class: 'off' }, 'starting');
  const storageEl = el('span', { id: 'storage' }, '');
  // the device's own say over field-data capture (design §4 capture): unticked, nothing is captured here
  const captureEl = el('input', { type: 'checkbox', id: 'capture' }) as HTMLInputElement;
  const fatalEl = el('p', { id: 'fatal', class: 'error', hidden: '' });
  const modelsBody = el('tbody');
  const eventsEl = el('ol', { id: 'events' });
  const formsEl = el('div', { id: 'infer' });
  let formsKey = '';
  captureEl.addEventListener('change', () => {
    captureEl.disabled = true;
    client
      .setCapture(captureEl.checked)
      // refused (the agent not started yet): the box goes back to what the agent holds, the reason in its title
      .then(state, async (err: unknown) => {
        captureEl.title = err instanceof Error ? err.message : String(err);
        const s = await client.status().catch(() => null);
        if (s) state(s);
        else captureEl.checked = !captureEl.checked;
      })
      .finally(() => (captureEl.disabled = false));
  });

  replace(
    root,
    el('section', {}, el('h2', {}, 'Device ', el('code', {}, deviceId)), el('p', {}, 'Connection: ', connEl, ' · this tab: ', roleEl, ' · storage: ', storageEl), el('p', {}, el('label', {}, captureEl, ' share field data with the fleet (capture)')), fatalEl),
    el('section', {}, el('h2', {}, 'Models'), el('table', { id: 'models' }, el('thead', {}, el('tr', {}, ...['model', 'state', 'active', 'previous', 'pending', 'progress', 'error'].map((h) => el('th', {}, h)))), modelsBody)),
    el('section', {}, el('h2', {}, 'Inference'), formsEl),
    el('section', {}, el('h2', {}, 'Recent events'), eventsEl),
  );

  function form(m: ModelInfo): HTMLElement {
    const out = el('pre', { class: 'outputs' });
    const fields = m.inputs.map((spec) => ({ spec, input: el('input', { type: 'text', name: spec.name, placeholder: `${spec.datatype} [${spec.shape.join(', ')}]`, size: '60' }) }));
    const f = el('form', { 'data-model': m.name }, el('h3', {}, `${m.name} `, el('small', {}, m.versions.join(' / '))), ...fields.map(({ spec, input }) => el('label', {}, el('span', {}, `${spec.name} (${spec.datatype} [${spec.shape.join(', ')}])`), input)), el('button', { type: 'submit' }, 'Run'), out);
    f.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void (async () => {
        try {
          const inputs = Object.fromEntries(fields.map(({ spec, input }) => [spec.name, tensorFromText(spec, input.value)]));
          const r = await client.infer(m.name, inputs);
          out.className = 'outputs';
          out.textContent = [`version ${r.version} · id ${r.id}`, ...Object.entries(r.outputs).map(([k, t]) => `${k}: ${describeTensor(t)}`)].join('\n');
        } catch (err) {
          out.className = 'outputs error';
          const code = (err as { code?: string }).code;
          out.textContent = `${code ? `${code}: ` : ''}${err instanceof Error ? err.message : String(err)}`;
        }
      })();
    });
    return f;
  }

  return {
    role(r) {
      roleEl.textContent = r === 'leader' ? 'runs the agent' : r === 'follower' ? 'uses the agent of another tab' : 'closed';
    },
    state,
    event(e) {
      eventsEl.prepend(el('li', {}, el('time', {}, e.at), ` ${e.type}${e.code ? ` ${e.code}` : ''}${e.model ? ` ${e.model}` : ''}: ${e.message}`));
      while (eventsEl.children.length > MAX_EVENTS) eventsEl.lastElementChild?.remove();
    },
    fatal,
  };

  function state(s: AgentSnapshot): void {
    connEl.textContent = s.connected ? 'online' : 'offline (serving from this device)';
    connEl.className = s.connected ? 'on' : 'off';
    const r = s.reported.resources as { storageUsageBytes?: number; storageQuotaBytes?: number };
    storageEl.textContent = `${bytes(r.storageUsageBytes)} of ${bytes(r.storageQuotaBytes)}${s.persisted === true ? ', persistent' : s.persisted === false ? ', not persistent (may be evicted)' : ''}`;
    if (s.error) fatal(s.error);
    const v = (x: { version: string } | null): string => x?.version ?? '—';
    replace(
      modelsBody,
      ...Object.entries(s.reported.models).map(([name, m]) =>
        el(
          'tr',
          { 'data-model': name },
          el('td', {}, name),
          el('td', { class: `state-${m.state}` }, m.state),
          el('td', {}, v(m.active)),
          el('td', {}, v(m.previous)),
          el('td', {}, v(m.pending)),
          el('td', {}, m.progress !== undefined ? el('progress', { max: '1', value: String(m.progress) }) : ''),
          el('td', { class: 'error' }, m.error ? `${m.error.code}: ${m.error.message}` : ''),
        ),
      ),
    );
    const key = JSON.stringify(s.models);
    if (key !== formsKey) {
      formsKey = key;
      replace(formsEl, ...(s.models.length ? s.models.map(form) : [el('p', {}, 'No active model yet: roll one out to this device.')]));
    }
    captureEl.checked = s.capture;
  }

  function fatal(e: { code: string; message: string }): void {
    fatalEl.hidden = false;
    fatalEl.textContent = `The agent could not start: ${e.code}: ${e.message}`;
  }
}
