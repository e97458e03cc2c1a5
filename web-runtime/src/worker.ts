// The agent's module Dedicated Worker (design §5 in a browser): runs createWebAgent off the page's thread,
// so inference and verification never block it. The page (client.ts) starts it with the config, then calls
// it over postMessage; it pushes snapshots when they change and every event as it happens. A burst of calls
// yields one trailing snapshot per CALL_PUSH_MS, not one per call: building, comparing and posting a snapshot
// (and the page parsing it, re-rendering and re-broadcasting it to the other tabs) cost more than an inference
// of a small model. Changes of the agent's own (activation, rollback, progress, connection) still come with the
// STATE_POLL_MS poll, as before.
// Automation hook: once started, the agent is also `globalThis.edgefleetAgent` in this worker's own scope
// (only code running in the worker reaches it), so `npm run bench -- web` can time `agent.run` inside the
// worker against bare onnxruntime-web in the same worker (playwright's worker.evaluate).

import { createWebAgent } from './agent.js';
import type { WebAgent } from './assemble.js';
import { errorBody, FromWorker, parseMessage, ToWorker, type AgentSnapshot } from './messages.js';
import { answer, snapshotOf } from './service.js';

/** The part of DedicatedWorkerGlobalScope used here (the package's lib is DOM, not WebWorker). */
interface WorkerScope {
  onmessage: ((ev: MessageEvent) => void) | null;
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
  close(): void;
}

const scope = globalThis as unknown as WorkerScope;
let agent: WebAgent | null = null;
let fatal: AgentSnapshot['error'] = null;
let starting: Promise<void> | null = null;
let lastState = '';
let timer: ReturnType<typeof setInterval> | null = null;
/** The pending push after calls: at most one; a call joins it. */
let pushTimer: ReturnType<typeof setTimeout> | null = null;
/** The trailing snapshot of a burst of calls comes this long after the first call of the burst. */
const CALL_PUSH_MS = 50;
const STATE_POLL_MS = 250;

function post(message: FromWorker, transfer: Transferable[] = []): void {
  scope.postMessage(message, transfer);
}

function pushState(): void {
  if (pushTimer !== null) clearTimeout(pushTimer);
  pushTimer = null;
  if (!agent) return;
  const snapshot = snapshotOf(agent, fatal);
  const json = JSON.stringify({ ...snapshot, reported: { ...snapshot.reported, at: '' } });
  if (json === lastState) return;
  lastState = json;
  post({ kind: 'state', snapshot });
}

/** Push the state within CALL_PUSH_MS: a pending push covers every call made before it fires. */
function schedulePush(): void {
  if (pushTimer === null) pushTimer = setTimeout(pushState, CALL_PUSH_MS);
}

scope.onmessage = (ev: MessageEvent) => {
  let msg: ToWorker;
  try {
    msg = parseMessage(ToWorker, ev.data, 'message to the agent worker');
  } catch (err) {
    const id = (ev.data as { id?: unknown } | null)?.id;
    if (typeof id === 'number' && Number.isSafeInteger(id) && id >= 0) post({ kind: 'reply', id, ok: false, error: errorBody(err) });
    return;
  }
  switch (msg.kind) {
    case 'start':
      if (starting) return;
      starting = createWebAgent({
        config: msg.config,
        ...(msg.ortPrefix ? { wasmPaths: msg.ortPrefix } : {}),
        // wasm threads need SharedArrayBuffer, so a cross-origin isolated page (COOP/COEP); else one thread
        numThreads: (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated ? Math.max(1, Math.min(4, (navigator.hardwareConcurrency || 2) - 1)) : 1,
        onEvent: (event) => post({ kind: 'event', event }),
      }).then(
        (a) => {
          agent = a;
          (globalThis as { edgefleetAgent?: WebAgent }).edgefleetAgent = a;
          pushState();
          timer = setInterval(pushState, STATE_POLL_MS);
        },
        (err: unknown) => {
          fatal = errorBody(err);
          post({ kind: 'fatal', error: fatal });
        },
      );
      return;
    case 'call': {
      const { id, request } = msg;
      void (async () => {
        await starting;
        try {
          const a = await answer(agent, request, fatal);
          post({ kind: 'reply', id, ok: true, result: a.result }, a.transfer);
        } catch (err) {
          post({ kind: 'reply', id, ok: false, error: errorBody(err) });
        }
        schedulePush();
      })();
      return;
    }
    case 'stop':
      void (async () => {
        await starting;
        if (timer) clearInterval(timer);
        if (pushTimer !== null) clearTimeout(pushTimer);
        await agent?.stop().catch(() => {});
        agent = null;
        delete (globalThis as { edgefleetAgent?: WebAgent }).edgefleetAgent;
        post({ kind: 'reply', id: msg.id, ok: true, result: null });
        scope.close();
      })();
      return;
  }
};
