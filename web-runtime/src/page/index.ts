// The device page (issue 12): turns this tab into a fleet device. Enrol by pasting the agent config
// (`edgefleet device add ID --out`) or by opening a one-time link (`#enrol=<code>`, enrol-link.ts); the
// config is kept in IndexedDB and never in a URL. Then the agent runs in a Worker
// (one per device id across tabs, client.ts) and the view shows it. The build tells the page where its
// hashed worker and onnxruntime-web files are (#edgefleet-assets in index.html).
// Automation hook: the running device's client is `globalThis.edgefleetClient` (the AgentClient an app
// embedding the library would hold), so `npm run bench -- web` can time the page → worker → page path.

import { EdgefleetError } from '@edgefleet/protocol';
import { parseWebAgentConfig } from '../config.js';
import { createAgentClient, type AgentClient } from '../client.js';
import { forgetConfig, loadConfig, saveConfig } from './config-store.js';
import { redeemEnrolmentCode, takeEnrolmentCode } from './enrol-link.js';
import { el, replace } from './dom.js';
import { deviceView } from './view.js';

/** The page's root (the hub's /device/): this script lives in its assets/, whatever URL the page has. */
const ROOT = new URL('../', import.meta.url);

interface Assets {
  worker: string;
  ort: string;
}

function assets(): Assets {
  const text = document.getElementById('edgefleet-assets')?.textContent ?? '';
  const a = JSON.parse(text) as Partial<Assets>;
  if (typeof a.worker !== 'string' || typeof a.ort !== 'string') throw new Error('index.html names no worker/ort assets');
  return { worker: new URL(a.worker, ROOT).href, ort: new URL(a.ort, ROOT).href };
}

// first of all: a one-time code leaves the address bar and the history entry before anything can read it
const enrolCode = takeEnrolmentCode();
const main = document.getElementById('app') as HTMLElement;
const swStatus = document.getElementById('sw-status');

async function registerServiceWorker(): Promise<void> {
  if (!('serviceWorker' in navigator)) {
    if (swStatus) swStatus.textContent = 'no Service Worker in this browser: the page needs the network to open';
    return;
  }
  try {
    await navigator.serviceWorker.register(new URL('sw.js', ROOT), { scope: ROOT.pathname });
    await navigator.serviceWorker.ready;
    if (swStatus) swStatus.textContent = 'works offline';
  } catch (err) {
    if (swStatus) swStatus.textContent = `offline cache unavailable: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** `CODE: message`, as the enrolment form shows a refusal. */
function describeError(err: unknown): string {
  const code = (err as { code?: string }).code;
  return `${code ? `${code}: ` : ''}${err instanceof Error ? err.message : String(err)}`;
}

/** The config for a one-time code, kept and started like a pasted one; a refusal shows with its code. */
async function enrolFromLink(code: string): Promise<void> {
  replace(main, el('p', { id: 'enrolling' }, 'Enrolling this device from its one-time link…'));
  try {
    const config = parseWebAgentConfig(await redeemEnrolmentCode(code, new URL('../', ROOT)));
    await saveConfig(config);
    start(config);
  } catch (err) {
    enrolForm(`enrolment link refused: ${describeError(err)}`);
  }
}

function enrolForm(message?: string): void {
  const area = el('textarea', { id: 'config', rows: '14', cols: '80', spellcheck: 'false', placeholder: '{ "deviceId": "…", "brokers": { "ws": "ws://hub:8080/mqtt" }, … }' });
  const error = el('p', { id: 'enrol-error', class: 'error' }, message ?? '');
  const f = el('form', { id: 'enrol' }, el('h2', {}, 'Enrol this device'), el('p', {}, 'Paste the file `edgefleet device add ID --out FILE` wrote. It stays in this browser (IndexedDB).'), area, el('button', { type: 'submit' }, 'Enrol'), error);
  f.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void (async () => {
      try {
        let json: unknown;
        try {
          json = JSON.parse(area.value);
        } catch (err) {
          throw new EdgefleetError('BAD_JSON', `not JSON: ${err instanceof Error ? err.message : String(err)}`);
        }
        const config = parseWebAgentConfig(json);
        await saveConfig(config);
        start(config);
      } catch (err) {
        error.textContent = describeError(err);
      }
    })();
  });
  replace(main, f);
}

function start(config: ReturnType<typeof parseWebAgentConfig>): void {
  const a = assets();
  const client = createAgentClient({ config, workerUrl: a.worker, ortPrefix: a.ort });
  (globalThis as { edgefleetClient?: AgentClient }).edgefleetClient = client;
  const view = deviceView(main, config.deviceId, client);
  client.onRole((r) => {
    view.role(r);
    if (r !== 'closed') void client.status().then((s) => s && view.state(s), () => {});
  });
  client.onState((s) => view.state(s));
  client.onEvent((e) => view.event(e));
  client.onFatal((e) => view.fatal(e));
  view.role(client.role);
  void client.status().then((s) => s && view.state(s), () => {});
  const forget = el('button', { id: 'forget', type: 'button' }, 'Forget this device');
  forget.addEventListener('click', () => {
    void (async () => {
      await client.close();
      delete (globalThis as { edgefleetClient?: AgentClient }).edgefleetClient;
      await forgetConfig();
      enrolForm();
    })();
  });
  main.append(el('p', {}, forget));
}

void registerServiceWorker();
void (async () => {
  if (enrolCode !== null) return enrolFromLink(enrolCode);
  let stored: unknown;
  try {
    stored = await loadConfig();
  } catch (err) {
    return enrolForm(`IndexedDB is unavailable: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (stored === undefined) return enrolForm();
  try {
    start(parseWebAgentConfig(stored));
  } catch (err) {
    enrolForm(`the stored config is no longer valid: ${err instanceof Error ? err.message : String(err)}`);
  }
})();
