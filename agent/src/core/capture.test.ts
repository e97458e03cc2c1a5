// Capture's drafts (design §4 capture): a captured prediction is copied on the inference path and finished off
// it — hashed, serialized, counted against the byte quota — in order, before anything reaches the outbox.

import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CaptureRules, type Manifest, type Tensor } from '@edgefleet/protocol';
import type { AgentContext, Live } from './context.js';
import { createCapture } from './capture.js';

const manifest = {
  model: 'm',
  version: '1.0.0',
  labels: ['a', 'b'],
  io: { inputs: [{ name: 'x', type: 'float32', shape: [1, 3] }], outputs: [{ name: 'p', type: 'float32', shape: [1, 2] }] },
  reference: {
    n: 4,
    features: ['f0', 'f1', 'f2'].map((name, index) => ({ name, source: { input: 'x', index }, edges: [0], counts: [2, 2], mean: 0, std: 1 })),
    output: { kind: 'classifier', output: 'p', indices: false, classCounts: [2, 2] },
  },
} as unknown as Manifest;

/** A capture on a hand-driven clock: timers run only when the test says so. */
function setup(rule: object) {
  let now = 60_000;
  const timers: (() => void)[] = [];
  const settings = { windowSeconds: 60, capture: CaptureRules.parse([{ model: 'm', ...rule }]) };
  const ctx = {
    state: { settings },
    clock: { now: () => now, setTimeout: (fn: () => void) => timers.push(fn), clearTimeout: () => {} },
    random: () => 0.5,
    digestOf: (b: Uint8Array) => createHash('sha256').update(b).digest('hex'),
    count: () => {},
  } as unknown as AgentContext;
  const capture = createCapture(ctx, { enabled: true });
  const live = { name: 'm', ref: { version: '1.0.0' }, manifest, role: 'active' } as unknown as Live;
  const data = new Float32Array(3);
  const infer = (i: number, id = `p${i}`) => {
    data.set([i, i + 0.5, i + 0.25]); // the caller's buffer, reused for every call
    const outputs: Record<string, Tensor> = { p: { type: 'float32', dims: [1, 2], data: new Float32Array([0.8, 0.2]) } };
    capture.afterInfer(live, { x: { type: 'float32', dims: [1, 3], data } }, outputs, id, 0);
  };
  return { capture, infer, timers, advance: (ms: number) => (now += ms) };
}

describe('capture drafts', () => {
  it('builds nothing for a prediction no trigger picks', () => {
    const { capture, infer, timers } = setup({ rate: 0.1 }); // random() is 0.5: never sampled
    for (let i = 0; i < 10; i++) infer(i);
    expect(timers).toHaveLength(0);
    expect(capture.take()).toBeNull();
  });

  it('hashes a row off the inference path, with the inputs it had when it was captured, and keeps labels after their rows', () => {
    const { capture, infer, timers } = setup({ rate: 1, redact: ['f1'], hash: ['f2'] });
    infer(1);
    infer(2);
    capture.labelled({ model: 'm', version: '1.0.0', role: 'active', predicted: 0 } as never, 'p1', 1, 'b');
    expect(timers).toHaveLength(1); // one timer for the batch, not one per row
    const taken = capture.take()!;
    expect(taken.rows.map((r) => [r.kind, r.id])).toEqual([['row', 'p1'], ['row', 'p2'], ['label', 'p1']]);
    const row = taken.rows[0]!;
    expect(row.kind === 'row' && row.features).toEqual({ f0: 1, f2: createHash('sha256').update('1.25').digest('hex') });
  });

  it('finishes a full batch at once and never holds more than a bounded number of drafts', () => {
    const { capture, infer, timers } = setup({ rate: 1 });
    for (let i = 0; i < 64; i++) infer(i);
    expect(timers.length).toBe(2); // the 50 ms timer, then "now" when 64 wait
    timers.splice(0).forEach((t) => t());
    for (let i = 0; i < 300; i++) infer(i); // timers never run: finished on the call once 256 wait
    expect(capture.take()!.rows).toHaveLength(364);
  });

  it('counts a row against the quota of the window it was captured in, and drops drafts when switched off', () => {
    const { capture, infer, advance } = setup({ rate: 1, windowBytes: 400 });
    infer(1);
    infer(2);
    advance(60_000); // finished in the next window: still the first window's bytes
    infer(3);
    const first = capture.take()!; // rows of ~170 bytes: two per window
    expect(first.rows.map((r) => r.id)).toEqual(['p1', 'p2', 'p3']);
    expect(first.drops.quota).toBe(0);
    infer(4);
    infer(5);
    const second = capture.take()!;
    expect(second.rows.map((r) => r.id)).toEqual(['p4']);
    expect(second.drops.quota).toBe(1);
    infer(6);
    capture.setEnabled(false);
    expect(capture.take()).toBeNull();
  });
});
