// Offline operation, the telemetry outbox, labels and shadow mode (design §5, §6) against a real broker,
// real onnxruntime and real SQLite.

import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TelemetryBatch, TelemetryWindow } from '@edgefleet/protocol';
import { createAgent, type Agent } from '@edgefleet/agent';
import { classifier, floats, FEATURES, startHarness, type Harness } from './support/fleet-harness.js';

let h: Harness;
const agents: Agent[] = [];

const FAST = {
  core: { retry: { baseMs: 100, maxMs: 1000 }, download: { timeoutMs: 300 } },
  reconnect: { initialMs: 50, maxMs: 400 },
};

function make(config: ReturnType<Harness['agentConfig']>, extra: Parameters<typeof createAgent>[1] = {}): Agent {
  const agent = createAgent(config, { ...FAST, ...extra, core: { ...FAST.core, ...(extra.core ?? {}) } });
  agents.push(agent);
  return agent;
}

async function inferHttp(agent: Agent, x: Float32Array, id?: string): Promise<{ model_version: string; id: string }> {
  const res = await fetch(`${agent.apiUrl}/v2/models/m/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...(id ? { id } : {}), inputs: [{ name: 'features', shape: [1, FEATURES], datatype: 'FP32', data: Array.from(x) }] }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as never;
}

/** Windows as the hub counts them: batches de-duplicated on (deviceId, seq). */
function distinctWindows(batches: TelemetryBatch[]): TelemetryWindow[] {
  const bySeq = new Map<number, TelemetryBatch>();
  for (const b of batches) if (!bySeq.has(b.seq)) bySeq.set(b.seq, b);
  return [...bySeq.values()].flatMap((b) => b.windows);
}

const sum = (ws: TelemetryWindow[], f: (w: TelemetryWindow) => number): number => ws.reduce((n, w) => n + f(w), 0);

beforeEach(async () => {
  h = await startHarness();
  await h.publishKeyring();
});

afterEach(async () => {
  for (const a of agents.splice(0)) await a.stop();
  await h.close();
});

describe('agent offline operation and telemetry', () => {
  it('serves from disk with the broker down the whole time, then drains the outbox once it is back, each window once', async () => {
    const config = h.agentConfig('dev-off');
    const m1 = await h.manifest({ name: 'm', version: '1.0.0', release: 1, bytes: classifier(1) });
    const first = make(config);
    await first.start();
    await h.desired('dev-off', [{ envelope: m1.envelope }]);
    await first.core.waitFor(() => first.core.slots().m?.active?.version === '1.0.0');
    await first.stop();
    const before = h.telemetry('dev-off').length;

    await h.down();
    const agent = make(config);
    await agent.start();
    // design §5 offline first: answers come from the verified model on disk, no broker anywhere
    const N = 12;
    for (let i = 0; i < N; i++) {
      const r = await inferHttp(agent, floats(FEATURES, i));
      expect(r.model_version).toBe('1.0.0');
      if (i % 4 === 3) await agent.core.flushTelemetry(); // close a window: three windows wait in the outbox
    }
    expect(agent.core.reported().models.m?.active?.version).toBe('1.0.0');
    expect(h.telemetry('dev-off').length).toBe(before);

    await h.up();
    await agent.core.waitFor(() => sum(distinctWindows(h.telemetry('dev-off').slice(before)), (w) => w.inferences) >= N, 20_000);
    // reconnect + resync must not send a window twice: the de-duplicated count is exact
    await agent.core.flushTelemetry();
    await new Promise((r) => setTimeout(r, 300));
    const windows = distinctWindows(h.telemetry('dev-off').slice(before));
    expect(sum(windows, (w) => w.inferences)).toBe(N);
    expect(windows.every((w) => w.model === 'm' && w.version === '1.0.0' && w.role === 'active')).toBe(true);
    expect(sum(windows, (w) => w.latencyMs.count)).toBe(N);
    expect(sum(windows, (w) => w.features.f0?.count ?? 0)).toBe(N);
    expect(sum(windows, (w) => (w.outputs?.classCounts ?? []).reduce((a, b) => a + b, 0))).toBe(N);
    const seqs = h.telemetry('dev-off').map((b) => b.seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual([...new Set(seqs)].sort((a, b) => a - b));
  });

  it('bounds the outbox: drops the oldest windows, counts the drop in the batch and as an event', async () => {
    const config = h.agentConfig('dev-box');
    const m1 = await h.manifest({ name: 'm', version: '1.0.0', release: 1, bytes: classifier(1) });
    const first = make(config);
    await first.start();
    await h.desired('dev-box', [{ envelope: m1.envelope }]);
    await first.core.waitFor(() => first.core.slots().m?.active?.version === '1.0.0');
    await first.stop();

    await h.down();
    const agent = make(config, { core: { outboxMaxWindows: 3 } });
    await agent.start();
    for (let i = 0; i < 6; i++) {
      await agent.infer('m', { features: { type: 'float32', dims: [1, FEATURES], data: floats(FEATURES, i) } });
      await agent.core.flushTelemetry();
    }
    await h.up();
    await agent.core.waitFor(() => h.events('dev-box').some((e) => e.type === 'outbox-dropped'), 20_000);
    await agent.core.waitFor(() => h.telemetry('dev-box').some((b) => b.dropped > 0), 20_000);
    const batches = h.telemetry('dev-box');
    expect(batches.reduce((n, b) => n + b.dropped, 0)).toBe(3);
    expect(sum(distinctWindows(batches), (w) => w.inferences)).toBe(3);
  });

  it('joins feedback to predictions by id, late labels as deltas with the original window bounds', async () => {
    const m1 = await h.manifest({ name: 'm', version: '1.0.0', release: 1, bytes: classifier(1), labels: ['a', 'b', 'c'] });
    const agent = make(h.agentConfig('dev-lab'));
    await agent.start();
    await h.desired('dev-lab', [{ envelope: m1.envelope }]);
    await agent.core.waitFor(() => agent.core.slots().m?.active?.version === '1.0.0');

    const early = await inferHttp(agent, floats(FEATURES, 1), 'req-1');
    expect(early.id).toBe('req-1');
    const res = await fetch(`${agent.apiUrl}/v2/models/m/feedback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'req-1', label: 'b' }),
    });
    expect(res.status).toBeLessThan(300);
    const open = agent.core.slots(); // still the same window: the label lands in it
    expect(open.m?.active?.version).toBe('1.0.0');

    const late = await agent.infer('m', { features: { type: 'float32', dims: [1, FEATURES], data: floats(FEATURES, 2) } });
    await agent.core.flushTelemetry();
    await agent.core.waitFor(() => h.telemetry('dev-lab').length > 0);
    const closed = distinctWindows(h.telemetry('dev-lab')).find((w) => w.inferences > 0)!;
    expect(closed.labels?.labelled).toBe(1);

    await agent.feedback('m', late.id, 2); // its window was already sent
    await agent.core.flushTelemetry();
    await agent.core.waitFor(() => distinctWindows(h.telemetry('dev-lab')).some((w) => w.inferences === 0 && w.labels?.labelled === 1));
    const delta = distinctWindows(h.telemetry('dev-lab')).find((w) => w.inferences === 0 && w.labels)!;
    expect([delta.start, delta.end]).toEqual([closed.start, closed.end]);
    expect(delta.labels!.confusion.reduce((n, c) => n + c[2], 0)).toBe(1);

    await expect(agent.feedback('m', 'no-such-id', 'a')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(agent.feedback('m', late.id, 'not-a-class')).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });

  it('runs a shadow model off the hot path and reports agreement and shadow latency', async () => {
    const active = await h.manifest({ name: 'm', version: '1.0.0', release: 1, bytes: classifier(1) });
    const shadow = await h.manifest({ name: 'm', version: '1.1.0', release: 2, bytes: classifier(1) });
    const agent = make(h.agentConfig('dev-sh'));
    await agent.start();
    await h.desired('dev-sh', [{ envelope: active.envelope }, { envelope: shadow.envelope, role: 'shadow' }]);
    await agent.core.waitFor(() => agent.core.slots().m?.active?.version === '1.0.0' && agent.core.slots().m?.shadow?.version === '1.1.0');
    for (let i = 0; i < 8; i++) {
      const r = await agent.infer('m', { features: { type: 'float32', dims: [1, FEATURES], data: floats(FEATURES, i) } });
      expect(r.version).toBe('1.0.0'); // shadow outputs never reach callers
    }
    await new Promise((r) => setTimeout(r, 100));
    await agent.core.flushTelemetry();
    await agent.core.waitFor(() => distinctWindows(h.telemetry('dev-sh')).some((w) => w.role === 'shadow'));
    const sw = distinctWindows(h.telemetry('dev-sh')).filter((w) => w.role === 'shadow');
    expect(sum(sw, (w) => w.shadow?.compared ?? 0)).toBe(8);
    expect(sum(sw, (w) => w.shadow?.agreed ?? 0)).toBe(8); // same weights: full agreement
    expect(sum(sw, (w) => w.shadow?.latencyMs.count ?? 0)).toBe(8);
    expect(sw.every((w) => w.version === '1.1.0')).toBe(true);
  });

  it('falls back to the previous version when the active file on disk is damaged', async () => {
    const config = h.agentConfig('dev-dmg');
    const m1 = await h.manifest({ name: 'm', version: '1.0.0', release: 1, bytes: classifier(1) });
    const m2 = await h.manifest({ name: 'm', version: '2.0.0', release: 2, bytes: classifier(2) });
    const first = make(config);
    await first.start();
    await h.desired('dev-dmg', [{ envelope: m1.envelope }]);
    await first.core.waitFor(() => first.core.slots().m?.active?.version === '1.0.0');
    await h.desired('dev-dmg', [{ envelope: m2.envelope }], { telemetry: { probationSeconds: 0 } });
    await first.core.waitFor(() => first.core.slots().m?.active?.version === '2.0.0');
    await first.stop();

    const file = path.join(config.dataDir, 'models', `${m2.sha256}.onnx`);
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 5] = bytes[bytes.length - 5]! ^ 0x55;
    fs.writeFileSync(file, bytes);
    await h.down(); // offline: nothing can be fetched again

    const agent = make(config);
    await agent.start();
    const r = await agent.infer('m', { features: { type: 'float32', dims: [1, FEATURES], data: floats(FEATURES, 1) } });
    expect(r.version).toBe('1.0.0');
    expect(agent.core.counters['event.load-failed']).toBe(1);
    expect(agent.core.counters['event.rolled-back']).toBe(1);
    // the damaged file is gone; the desired 2.0.0 is fetched again once the hub is reachable
    expect(fs.existsSync(file)).toBe(false);
    // stopped before it ever reached the hub: the events wait in its store, not in memory
    await agent.stop();
    expect(h.events('dev-dmg').some((e) => e.type === 'rolled-back')).toBe(false);
    await h.up();
    const again = make(config);
    await again.start();
    await again.core.waitFor(() => again.core.slots().m?.active?.version === '2.0.0');
    await again.core.waitFor(() => h.events('dev-dmg').some((e) => e.type === 'rolled-back'));
    expect(h.events('dev-dmg').filter((e) => e.type === 'load-failed' && e.version === '2.0.0').length).toBe(1);
    expect(h.events('dev-dmg').filter((e) => e.type === 'rolled-back').length).toBe(1);
  });

  it('closes windows of the length the desired state sets and sends them without being asked', async () => {
    const m1 = await h.manifest({ name: 'm', version: '1.0.0', release: 1, bytes: classifier(1) });
    const agent = make(h.agentConfig('dev-win'));
    await agent.start();
    await h.desired('dev-win', [{ envelope: m1.envelope }], { telemetry: { windowSeconds: 1 } });
    await agent.core.waitFor(() => agent.core.slots().m?.active?.version === '1.0.0');
    for (let i = 0; i < 5; i++) await agent.infer('m', { features: { type: 'float32', dims: [2, FEATURES], data: floats(2 * FEATURES, i) } });
    await agent.core.waitFor(() => sum(distinctWindows(h.telemetry('dev-win')), (w) => w.inferences) === 5, 10_000);
    const windows = distinctWindows(h.telemetry('dev-win'));
    expect(windows.every((w) => w.end - w.start === 1000 && w.start % 1000 === 0)).toBe(true);
    expect(sum(windows, (w) => w.features.f0?.count ?? 0)).toBe(10); // one value per batch row
    expect(windows.flatMap((w) => w.errors ? Object.keys(w.errors) : [])).toEqual([]);
  });
});
