// What a page calls to run the device (issue 12: one agent per device id across tabs). The tab holding the
// Web Lock `edgefleet-agent:<deviceId>` runs the agent Worker (worker.ts) and talks to it over postMessage,
// tensors transferred; every other tab waits for the lock and meanwhile asks the leader over the
// BroadcastChannel of the same name. When the leader's tab closes its lock is released and the next tab
// takes over. Two tabs, one id: one MQTT connection, both can infer.

import { EdgefleetError, type DeviceEvent, type Tensor } from '@edgefleet/protocol';
import { parseWebAgentConfig } from './config.js';
import { errorBody, FromWorker, InferReply, parseMessage, TabMessage, transferablesOf, type AgentRequest, type AgentSnapshot } from './messages.js';

export type Role = 'follower' | 'leader' | 'closed';

/** The parts of Worker, BroadcastChannel and LockManager used here (tests hand stand-ins). */
export interface WorkerLike {
  onmessage: ((ev: MessageEvent) => void) | null;
  onerror: ((ev: ErrorEvent) => void) | null;
  postMessage(message: unknown, transfer?: Transferable[]): void;
  terminate(): void;
}
export interface ChannelLike {
  onmessage: ((ev: MessageEvent) => void) | null;
  postMessage(message: unknown): void;
  close(): void;
}
export interface LocksLike {
  request(name: string, callback: () => Promise<void>): Promise<unknown>;
}

export interface AgentClientOptions {
  /** The agent config (validated here; BAD_INPUT otherwise). */
  config: unknown;
  /** The bundled worker script (a module worker). */
  workerUrl: string | URL;
  /** Where onnxruntime-web finds its wasm files, handed to the worker. */
  ortPrefix?: string;
  locks?: LocksLike | null;
  createWorker?: (url: string | URL) => WorkerLike;
  createChannel?: (name: string) => ChannelLike;
  /** How long a follower waits for the leader's answer (default 60 s). */
  requestTimeoutMs?: number;
  tabId?: string;
}

export interface InferAnswer {
  id: string;
  version: string;
  outputs: Record<string, Tensor>;
}

export interface AgentClient {
  readonly tabId: string;
  readonly role: Role;
  /** Tab messages refused as malformed (BAD_MESSAGE), by code. */
  readonly refused: Record<string, number>;
  infer(model: string, inputs: Record<string, Tensor>, options?: { version?: string; id?: string; outputs?: string[] }): Promise<InferAnswer>;
  label(model: string, predictionId: string, label: string | number): Promise<void>;
  status(): Promise<AgentSnapshot | null>;
  /** The device-side capture switch (kept across reloads); answers the snapshot after the change. */
  setCapture(enabled: boolean): Promise<AgentSnapshot>;
  onState(fn: (s: AgentSnapshot) => void): void;
  onEvent(fn: (e: DeviceEvent) => void): void;
  onRole(fn: (r: Role) => void): void;
  /** The agent failed to start (bad wasm, storage refused, …): shown, never a silent hang. */
  onFatal(fn: (e: { code: string; message: string }) => void): void;
  close(): Promise<void>;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer?: ReturnType<typeof setTimeout>;
}

const toError = (e: { code: string; message: string }): Error => {
  const err = new Error(e.message) as Error & { code: string };
  err.code = e.code;
  return err;
};

export function createAgentClient(options: AgentClientOptions): AgentClient {
  const config = parseWebAgentConfig(options.config);
  const name = `edgefleet-agent:${config.deviceId}`;
  const tabId = options.tabId ?? crypto.randomUUID();
  const timeoutMs = options.requestTimeoutMs ?? 60_000;
  const locks = options.locks === undefined ? ((globalThis.navigator as { locks?: LocksLike } | undefined)?.locks ?? null) : options.locks;
  const channel = (options.createChannel ?? ((n) => new BroadcastChannel(n)))(name);
  const newWorker = options.createWorker ?? ((url: string | URL): WorkerLike => new Worker(url, { type: 'module', name }));

  const listeners = { state: [] as ((s: AgentSnapshot) => void)[], event: [] as ((e: DeviceEvent) => void)[], role: [] as ((r: Role) => void)[], fatal: [] as ((e: { code: string; message: string }) => void)[] };
  const refused: Record<string, number> = {};
  let role: Role = 'follower';
  let worker: WorkerLike | null = null;
  let nextId = 1;
  /** Calls this tab made: to its own worker (leader) or over the channel (follower). */
  const mine = new Map<number, Pending>();
  /** Leader only: worker call id → the follower that asked, and its id. */
  const forwarded = new Map<number, { to: string; id: number }>();
  let release: (() => void) | null = null;
  let lastSnapshot: AgentSnapshot | null = null;

  const setRole = (r: Role): void => {
    role = r;
    for (const f of listeners.role) f(r);
  };
  const refuse = (code: string): void => {
    refused[code] = (refused[code] ?? 0) + 1;
  };
  const state = (s: AgentSnapshot): void => {
    lastSnapshot = s;
    for (const f of listeners.state) f(s);
  };

  function onWorker(ev: MessageEvent): void {
    let msg: FromWorker;
    try {
      msg = parseMessage(FromWorker, ev.data, 'message from the agent worker');
    } catch {
      refuse('BAD_MESSAGE');
      return;
    }
    switch (msg.kind) {
      case 'reply': {
        const f = forwarded.get(msg.id);
        if (f) {
          forwarded.delete(msg.id);
          channel.postMessage(msg.ok ? { kind: 'reply', to: f.to, id: f.id, ok: true, result: msg.result } : { kind: 'reply', to: f.to, id: f.id, ok: false, error: msg.error });
          return;
        }
        settle(msg.id, msg.ok ? { ok: true, result: msg.result } : { ok: false, error: msg.error });
        return;
      }
      case 'state':
        state(msg.snapshot);
        channel.postMessage(msg);
        return;
      case 'event':
        for (const f of listeners.event) f(msg.event);
        channel.postMessage(msg);
        return;
      case 'fatal':
        for (const f of listeners.fatal) f(msg.error);
        return;
    }
  }

  function settle(id: number, r: { ok: true; result: unknown } | { ok: false; error: { code: string; message: string } }): void {
    const p = mine.get(id);
    if (!p) return;
    mine.delete(id);
    if (p.timer) clearTimeout(p.timer);
    if (r.ok) p.resolve(r.result);
    else p.reject(toError(r.error));
  }

  /** Calls sent to a leader that is gone will never be answered: the caller may ask again. */
  function dropFollowerCalls(why: string): void {
    for (const id of [...mine.keys()]) settle(id, { ok: false, error: { code: 'UNAVAILABLE', message: why } });
  }

  channel.onmessage = (ev: MessageEvent) => {
    let msg: TabMessage;
    try {
      msg = parseMessage(TabMessage, ev.data, 'message from another tab');
    } catch (err) {
      refuse('BAD_MESSAGE');
      // a request we can answer: say why it was refused
      const d = ev.data as { kind?: unknown; from?: unknown; id?: unknown } | null;
      if (role === 'leader' && d?.kind === 'request' && typeof d.from === 'string' && d.from.length <= 64 && typeof d.id === 'number' && Number.isSafeInteger(d.id) && d.id >= 0) {
        channel.postMessage({ kind: 'reply', to: d.from, id: d.id, ok: false, error: errorBody(err) });
      }
      return;
    }
    switch (msg.kind) {
      case 'request':
        if (role !== 'leader' || !worker) return;
        {
          const wid = nextId++;
          forwarded.set(wid, { to: msg.from, id: msg.id });
          worker.postMessage({ kind: 'call', id: wid, request: msg.request }, requestTransfer(msg.request));
        }
        return;
      case 'reply':
        if (msg.to !== tabId || role !== 'follower') return;
        settle(msg.id, msg.ok ? { ok: true, result: msg.result } : { ok: false, error: msg.error });
        return;
      case 'state':
        if (role === 'follower') state(msg.snapshot);
        return;
      case 'event':
        if (role === 'follower') for (const f of listeners.event) f(msg.event);
        return;
      case 'leader':
        if (msg.tab !== tabId && role === 'follower') dropFollowerCalls('the leader tab changed before answering; ask again');
        return;
    }
  };

  function requestTransfer(r: AgentRequest): Transferable[] {
    return r.op === 'infer' ? transferablesOf(r.inputs as Record<string, Tensor>) : [];
  }

  function becomeLeader(): Promise<void> {
    dropFollowerCalls('this tab runs the agent now; ask again');
    const w = newWorker(options.workerUrl);
    worker = w;
    w.onmessage = onWorker;
    w.onerror = (ev) => {
      const message = ev.message || 'the agent worker failed to load (a 404, a wrong MIME type or the CSP)';
      for (const f of listeners.fatal) f({ code: 'UNAVAILABLE', message });
    };
    w.postMessage({ kind: 'start', config, ...(options.ortPrefix ? { ortPrefix: options.ortPrefix } : {}) });
    setRole('leader');
    channel.postMessage({ kind: 'leader', tab: tabId });
    return new Promise<void>((resolve) => {
      release = resolve;
    });
  }

  if (locks) {
    void locks.request(name, () => (role === 'closed' ? Promise.resolve() : becomeLeader())).catch(() => {});
  } else {
    // no Web Locks (an old web view): this tab runs the agent; a second tab would fight for the connection
    void becomeLeader();
  }

  function call(request: AgentRequest): Promise<unknown> {
    if (role === 'closed') return Promise.reject(new EdgefleetError('UNAVAILABLE', 'the agent client is closed'));
    const id = nextId++;
    return new Promise((resolve, reject) => {
      const p: Pending = { resolve, reject };
      mine.set(id, p);
      if (role === 'leader' && worker) {
        worker.postMessage({ kind: 'call', id, request }, requestTransfer(request));
      } else {
        p.timer = setTimeout(() => settle(id, { ok: false, error: { code: 'UNAVAILABLE', message: `no answer from the leader tab in ${timeoutMs} ms` } }), timeoutMs);
        channel.postMessage({ kind: 'request', from: tabId, id, request });
      }
    });
  }

  return {
    tabId,
    get role() {
      return role;
    },
    refused,
    async infer(model, inputs, opts) {
      const result = await call({ op: 'infer', model, inputs, ...(opts ? { options: opts } : {}) });
      return parseMessage(InferReply, result, 'inference answer') as InferAnswer;
    },
    async label(model, predictionId, label) {
      await call({ op: 'label', model, predictionId, label });
    },
    async status() {
      const s = (await call({ op: 'status' })) as AgentSnapshot | null;
      return s ?? lastSnapshot;
    },
    async setCapture(enabled) {
      return (await call({ op: 'capture', enabled })) as AgentSnapshot;
    },
    onState: (f) => void listeners.state.push(f),
    onEvent: (f) => void listeners.event.push(f),
    onRole: (f) => void listeners.role.push(f),
    onFatal: (f) => void listeners.fatal.push(f),
    async close() {
      if (role === 'closed') return;
      const wasLeader = role === 'leader';
      const w = worker;
      dropFollowerCalls('the agent client is closed');
      if (wasLeader && w) {
        // a clean stop: the core marks a clean stop and publishes `offline` before the connection ends
        await new Promise<void>((resolve) => {
          const id = nextId++;
          const timer = setTimeout(resolve, 5000);
          mine.set(id, { resolve: () => (clearTimeout(timer), resolve()), reject: () => (clearTimeout(timer), resolve()) });
          w.postMessage({ kind: 'stop', id });
        });
        w.terminate();
      }
      worker = null;
      setRole('closed');
      release?.();
      channel.close();
    },
  };
}
