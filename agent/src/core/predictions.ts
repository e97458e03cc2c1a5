// Recent predictions and the labels joined to them by prediction id (design §6). The hot path writes a
// number, a class and one pointer to the (model, version, role, window) it landed in into a ring of
// parallel arrays — no per-call object, few cold cache lines. Agent-assigned ids are `bootPrefix + n`;
// caller-chosen ids map to n through a Map. Older predictions are looked up in the store.

import { EdgefleetError } from '@edgefleet/protocol';
import { manifestOf, type AgentContext, type Live } from './context.js';
import type { PredictionRecord } from './ports.js';
import { labelDeltaWindow, windowAddLabel } from './telemetry-recorder.js';

export interface PredictionsOptions {
  /** Predictions remembered in memory for feedback joins. */
  memory: number;
  /** A late label went into the outbox as a delta window: send it. */
  flushOutbox: () => Promise<void>;
  /** A label was joined to prediction `id` (capture.ts: late labels of captured rows, contradiction trigger). */
  onLabel?: (rec: PredictionRecord, id: string, actual: number, label: string | number) => void;
}

export interface Predictions {
  /** Counts one inference of `live`; remembers its predicted class (≥ 0) for a label. Returns its id. */
  remember(live: Live, predicted: number, customId: string | undefined): string;
  /** Ground truth for an earlier prediction of model `name` (design §6 labels). */
  label(name: string, id: string, value: string | number): Promise<void>;
  /** Store predictions since the last save (the newest 4096 at most), for feedback after a restart. */
  save(): Promise<void>;
}

type RingWindow = Omit<PredictionRecord, 'predicted'>;

export function createPredictions(ctx: AgentContext, options: PredictionsOptions): Predictions {
  const { state, store } = ctx;
  const memory = options.memory;
  const ringN = new Float64Array(memory);
  const ringPredicted = new Float64Array(memory);
  const ringWindow: (RingWindow | undefined)[] = new Array<RingWindow | undefined>(memory).fill(undefined);
  const ringId: (string | undefined)[] = new Array<string | undefined>(memory).fill(undefined);
  const customIds = new Map<string, number>();
  const bootPrefix = `${Math.floor(ctx.random() * 0xffffffff).toString(36)}-`;
  let counter = 0;
  let persistedUpTo = 0;

  function ringRecord(n: number): PredictionRecord | undefined {
    const slot = n % memory;
    const w = ringWindow[slot];
    if (w === undefined || ringN[slot] !== n) return undefined;
    return { model: w.model, version: w.version, role: w.role, start: w.start, end: w.end, predicted: ringPredicted[slot]! };
  }

  function ringLookup(id: string): PredictionRecord | undefined {
    let n = customIds.get(id);
    if (n === undefined && id.startsWith(bootPrefix)) {
      const k = Number(id.slice(bootPrefix.length));
      if (Number.isInteger(k)) n = k;
    }
    return n === undefined ? undefined : ringRecord(n);
  }

  function unpersisted(): [string, PredictionRecord][] {
    const out: [string, PredictionRecord][] = [];
    const from = Math.max(persistedUpTo + 1, counter - Math.min(4096, memory) + 1);
    for (let n = from; n <= counter; n++) {
      const rec = ringRecord(n);
      if (rec) out.push([ringId[n % memory] ?? bootPrefix + String(n), rec]);
    }
    persistedUpTo = counter;
    return out;
  }

  async function findLabels(name: string, version: string): Promise<string[]> {
    const slot = state.slots[name];
    for (const ref of [slot?.active, slot?.previous, slot?.shadow]) {
      if (ref?.version === version) return (await manifestOf(store, ref.sha256))?.labels ?? [];
    }
    return [];
  }

  return {
    remember(live, predicted, customId) {
      const n = ++counter;
      if (predicted >= 0) {
        const slot = n % memory;
        const old = ringId[slot];
        if (old !== undefined) {
          if (customIds.get(old) === ringN[slot]) customIds.delete(old);
          ringId[slot] = undefined;
        }
        if (customId !== undefined) {
          ringId[slot] = customId;
          customIds.set(customId, n);
        }
        const tel = live.telemetry;
        let rw = live.ringWindow;
        if (rw === null || rw.start !== tel.start || rw.end !== tel.end) {
          // once per window per model version, not per call
          rw = live.ringWindow = { model: live.name, version: live.ref.version, role: live.role, start: tel.start, end: tel.end };
        }
        ringN[slot] = n;
        ringPredicted[slot] = predicted;
        ringWindow[slot] = rw;
      }
      return customId ?? bootPrefix + String(n);
    },

    async label(name, id, value) {
      let rec = ringLookup(id);
      if (!rec || rec.model !== name) rec = await store.getPrediction(name, id);
      if (!rec) throw new EdgefleetError('NOT_FOUND', `no prediction '${id}' of model '${name}' to label`);
      const s = state.served.get(name);
      const live = [s?.active, s?.shadow].find((l) => l && l.ref.version === rec.version && l.role === rec.role) ?? null;
      const labels = live?.manifest.labels ?? (await findLabels(name, rec.version));
      const actual = typeof value === 'number' ? (Number.isInteger(value) && value >= 0 ? value : -1) : labels.indexOf(value) >= 0 ? labels.indexOf(value) : /^\d+$/.test(value) ? Number(value) : -1;
      if (actual < 0) throw new EdgefleetError('BAD_INPUT', `label ${JSON.stringify(value)} is not a class of '${name}'${labels.length ? ` (${labels.slice(0, 10).join(', ')})` : ''}`);
      if (live && live.telemetry.start === rec.start) {
        windowAddLabel(live.telemetry.window, rec.predicted, actual);
      } else {
        // design §6: a late label goes out as a delta for the window of the original prediction
        state.closedWindows.push(labelDeltaWindow(name, rec.version, rec.role, rec.start, rec.end, rec.predicted, actual));
        void options.flushOutbox();
      }
      options.onLabel?.(rec, id, actual, labels[actual] ?? actual);
      ctx.count('labels');
    },

    async save() {
      if (persistedUpTo < counter) await store.putPredictions(unpersisted());
    },
  };
}
