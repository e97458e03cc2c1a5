// Test helpers for the browser agent under Node: a valid agent config, a Web Locks stand-in (exclusive,
// FIFO, released when the callback's promise settles) and a fake agent Worker.
import type { LocksLike, WorkerLike } from '../src/client.js';

export const config = {
  deviceId: 'tab-device-1',
  brokers: { ws: 'ws://127.0.0.1:1/mqtt' },
  username: 'tab-device-1',
  password: 'p'.repeat(24),
  rootPublicKey: 'A'.repeat(43) + '=',
};

export function fakeLocks(): LocksLike {
  const queues = new Map<string, (() => Promise<void>)[]>();
  const held = new Set<string>();
  const pump = (name: string): void => {
    if (held.has(name)) return;
    const next = queues.get(name)?.shift();
    if (!next) return;
    held.add(name);
    void next().finally(() => {
      held.delete(name);
      pump(name);
    });
  };
  return {
    request(name, callback) {
      return new Promise((resolve, reject) => {
        const q = queues.get(name) ?? [];
        queues.set(name, q);
        q.push(() => callback().then(resolve, reject));
        pump(name);
      });
    },
  };
}

export const reported = (deviceId: string) => ({
  deviceId,
  agentVersion: '0.1.0',
  runtime: 'onnxruntime-web@test',
  platform: 'browser-web',
  desiredSequence: 0,
  keyringVersion: 0,
  models: {},
  resources: { storageQuotaBytes: 1000, storageUsageBytes: 10 },
  at: new Date(0).toISOString(),
});

export interface FakeWorker extends WorkerLike {
  readonly n: number;
  readonly received: unknown[];
  terminated: boolean;
}

/** A worker that doubles input `x` into output `y` and says which worker it was in the answer's id. */
export function fakeWorkers(): { create: (url: string | URL) => WorkerLike; all: FakeWorker[] } {
  const all: FakeWorker[] = [];
  const create = (): WorkerLike => {
    const w: FakeWorker = {
      n: all.length + 1,
      received: [],
      terminated: false,
      onmessage: null,
      onerror: null,
      postMessage(sent: unknown, transfer: Transferable[] = []) {
        // as a real postMessage does: a structured clone, the transferred buffers detached on the sender's side
        const message = structuredClone(sent, { transfer: transfer as ArrayBuffer[] });
        w.received.push(message);
        const m = message as { kind: string; id: number; config?: { deviceId: string }; request?: { op: string; inputs?: Record<string, { data: Float32Array }> } };
        const reply = (data: unknown): void => void setTimeout(() => w.onmessage?.({ data } as MessageEvent), 0);
        if (m.kind === 'start') reply({ kind: 'state', snapshot: { connected: true, reported: reported(m.config!.deviceId), models: [], persisted: false, capture: true, error: null } });
        else if (m.kind === 'stop') reply({ kind: 'reply', id: m.id, ok: true, result: null });
        else if (m.request?.op === 'infer') {
          const x = m.request.inputs!.x!.data;
          reply({ kind: 'reply', id: m.id, ok: true, result: { id: `worker-${w.n}`, version: '1.0.0', outputs: { y: { type: 'float32', dims: [x.length], data: x.map((v) => v * 2) } } } });
        } else reply({ kind: 'reply', id: m.id, ok: false, error: { code: 'NOT_FOUND', message: 'fake worker' } });
      },
      terminate() {
        w.terminated = true;
      },
    };
    all.push(w);
    return w;
  };
  return { create, all };
}

export const until = async (cond: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 5));
  }
};
