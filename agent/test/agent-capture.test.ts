// Field-data capture on the device (design §4 capture) against a real broker, real onnxruntime and real SQLite:
// the signed policy's sample rate, per-window byte quota, outbox disk budget (oldest dropped first, drops
// counted), feature allow-list, hashing and redaction — checked on the wire by a raw MQTT subscriber —, the
// device-side off switch, late labels and the label-contradiction trigger, and exactly once across a restart.

import { createHash } from 'node:crypto';
import mqtt from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { topics, type Capture, type CaptureRule, type TelemetryBatch } from '@edgefleet/protocol';
import { createAgent, type Agent } from '@edgefleet/agent';
import { classifier, floats, FEATURES, startHarness, tmpDir, type Harness } from './support/fleet-harness.js';

let h: Harness;
const agents: Agent[] = [];
const clients: mqtt.MqttClient[] = [];

const FAST = { core: { retry: { baseMs: 100, maxMs: 1000 }, download: { timeoutMs: 300 } }, reconnect: { initialMs: 50, maxMs: 400 } };

function make(config: ReturnType<Harness['agentConfig']>, extra: Parameters<typeof createAgent>[1] = {}): Agent {
  const agent = createAgent(config, { ...FAST, api: false, ...extra, core: { ...FAST.core, ...(extra.core ?? {}) } });
  agents.push(agent);
  return agent;
}

/** A raw MQTT subscriber on the device's telemetry topic: the bytes as they crossed the wire. */
async function tap(deviceId: string): Promise<string[]> {
  const seen: string[] = [];
  const c = mqtt.connect(h.url, { clientId: `tap-${deviceId}`, reconnectPeriod: 50 });
  clients.push(c);
  c.on('message', (_t, payload) => seen.push(payload.toString()));
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => c.subscribe(topics.telemetry(deviceId), { qos: 1 }, (err) => (err ? reject(err) : resolve())));
  });
  return seen;
}

/** Captures as the hub counts them: batches de-duplicated on seq. */
function distinct(raw: readonly string[]): { captures: Capture[]; dropped: { quota: number; disk: number; oversized: number } } {
  const bySeq = new Map<number, TelemetryBatch>();
  for (const text of raw) {
    const b = JSON.parse(text) as TelemetryBatch;
    if (!bySeq.has(b.seq)) bySeq.set(b.seq, b);
  }
  const batches = [...bySeq.values()];
  const dropped = { quota: 0, disk: 0, oversized: 0 };
  for (const b of batches) for (const k of ['quota', 'disk', 'oversized'] as const) dropped[k] += b.capturesDropped?.[k] ?? 0;
  return { captures: batches.flatMap((b) => b.captures ?? []), dropped };
}

const rowsOf = (c: Capture[]) => c.filter((x): x is Extract<Capture, { kind: 'row' }> => x.kind === 'row');

async function serve(deviceId: string, rule: Partial<CaptureRule>, extra: Parameters<typeof createAgent>[1] = {}, config = h.agentConfig(deviceId)): Promise<Agent> {
  const m = await h.manifest({ name: 'm', version: '1.0.0', release: 1, bytes: classifier(1), features: FEATURES });
  const agent = make(config, extra);
  await agent.start();
  await h.desired(deviceId, [{ envelope: m.envelope }], { telemetry: { capture: [{ model: 'm', rate: 1, triggers: {}, windowBytes: 1 << 20, diskBytes: 1 << 20, hash: [], redact: [], ...rule }] } });
  await agent.core.waitFor(() => agent.core.slots().m?.active?.version === '1.0.0');
  return agent;
}

const input = (i: number) => floats(FEATURES, 100 + i);
const infer = (agent: Agent, i: number, id = `p${i}`) => agent.infer('m', { features: { type: 'float32', dims: [1, FEATURES], data: input(i) } }, { id });

beforeEach(async () => {
  h = await startHarness();
  await h.publishKeyring();
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.end(true);
  for (const a of agents.splice(0)) await a.stop();
  await h.close();
});

describe('field-data capture', () => {
  it('sends only allow-listed features, hashed ones as sha256 of the value, and never a redacted one — on the wire', async () => {
    const wire = await tap('dev-cap');
    const agent = await serve('dev-cap', { features: ['f0', 'f1', 'f2'], redact: ['f1'], hash: ['f2'] });
    const N = 10;
    for (let i = 0; i < N; i++) await infer(agent, i);
    await agent.core.flushTelemetry();
    await agent.core.waitFor(() => rowsOf(distinct(wire).captures).length >= N, 20_000);
    const rows = rowsOf(distinct(wire).captures);
    expect(rows.map((r) => r.id).sort()).toEqual(Array.from({ length: N }, (_, i) => `p${i}`).sort());
    for (const r of rows) {
      const x = input(Number(r.id.slice(1)));
      expect(Object.keys(r.features).sort()).toEqual(['f0', 'f2']); // f1 redacted, f3 not allowed
      expect(r.features.f0).toBe(x[0]);
      expect(r.features.f2).toBe(createHash('sha256').update(String(x[2])).digest('hex'));
      expect(['a', 'b', 'c']).toContain(r.prediction);
      expect(r.confidence).toBeGreaterThan(0);
      expect(r.trigger).toBe('sample');
    }
    // the redacted and unlisted values appear nowhere in the captured part of the bytes the device sent, not
    // even as text (the windows beside them: the next test)
    const all = wire.map((text) => text.slice(text.indexOf('"captures":'))).join('\n');
    expect(all).toContain('"kind":"row"');
    for (let i = 0; i < N; i++) {
      expect(all).not.toContain(JSON.stringify(input(i)[1]));
      expect(all).not.toContain(JSON.stringify(input(i)[3]));
      expect(all).not.toContain(JSON.stringify(input(i)[2]));
    }
    expect(all).not.toContain('"f1"');
    expect(all).not.toContain('"f3"');
  });

  it('sends no raw value of a redacted, hashed or unlisted feature in the telemetry windows either — on the wire; their drift bins stay', async () => {
    const wire = await tap('dev-win');
    const agent = await serve('dev-win', { features: ['f0', 'f1', 'f2'], redact: ['f1'], hash: ['f2'] });
    // a window of one row first (its sum would be that row's value), then one of several
    await infer(agent, 0);
    await agent.core.flushTelemetry();
    const N = 8;
    for (let i = 1; i < N; i++) await infer(agent, i);
    await agent.core.flushTelemetry();
    const windowsOf = () => [...new Map(wire.map((t) => JSON.parse(t) as TelemetryBatch).map((b) => [b.seq, b])).values()].flatMap((b) => b.windows).filter((w) => w.model === 'm');
    await agent.core.waitFor(() => windowsOf().reduce((n, w) => n + w.inferences, 0) >= N, 20_000);
    const windows = windowsOf();
    expect(windows.some((w) => w.inferences === 1)).toBe(true);
    // every byte the hub would receive, windows and rows alike: not one value of f1, f2 or f3 as text
    const all = wire.join('\n');
    for (let i = 0; i < N; i++) for (const k of [1, 2, 3]) expect(all).not.toContain(JSON.stringify(input(i)[k]));
    for (const w of windows) {
      for (const name of ['f1', 'f2', 'f3']) {
        const f = w.features[name]!;
        // what remains: the reference-bin counts drift reads, count and nulls
        expect(Object.keys(f).sort()).toEqual(['bins', 'count', 'nulls']);
        expect(f.bins.reduce((a, b) => a + b, 0)).toBe(f.count);
      }
      expect(w.features.f0).toMatchObject({ min: expect.any(Number), max: expect.any(Number), sum: expect.any(Number) }); // disclosed as before
    }
    for (const name of ['f1', 'f2', 'f3']) expect(windows.reduce((n, w) => n + w.features[name]!.count, 0)).toBe(N);
    expect(all).toContain(JSON.stringify(input(0)[0])); // the tap does see raw values where they may go: f0 of the first row
  });

  it('samples at the base rate: none at 0, every prediction at 1, about a quarter at 0.25', async () => {
    const wire = await tap('dev-rate');
    const agent = await serve('dev-rate', { rate: 0 });
    for (let i = 0; i < 20; i++) await infer(agent, i, `zero-${i}`);
    await agent.core.flushTelemetry();
    await h.desired('dev-rate', [{ envelope: (await h.manifest({ name: 'm', version: '1.0.0', release: 1, bytes: classifier(1), features: FEATURES })).envelope }], {
      telemetry: { capture: [{ model: 'm', rate: 0.25, triggers: {}, windowBytes: 1 << 20, diskBytes: 1 << 20, hash: [], redact: [] }] },
    });
    await agent.core.waitFor(() => agent.core.reported().desiredSequence === 2);
    const N = 400;
    for (let i = 0; i < N; i++) await infer(agent, i, `q-${i}`);
    await agent.core.flushTelemetry();
    await agent.core.waitFor(() => (agent.core.counters.captured ?? 0) === rowsOf(distinct(wire).captures).length, 20_000);
    const rows = rowsOf(distinct(wire).captures);
    expect(rows.filter((r) => r.id.startsWith('zero-'))).toEqual([]);
    const sampled = rows.filter((r) => r.id.startsWith('q-')).length;
    // binomial(400, 0.25): mean 100, sd ≈ 8.7; the bounds are over 4 sd away
    expect(sampled).toBeGreaterThan(60);
    expect(sampled).toBeLessThan(140);
  });

  it('holds the per-window byte quota and reports the rows it dropped', async () => {
    const wire = await tap('dev-quota');
    const agent = await serve('dev-quota', { windowBytes: 1200 }, { core: { ...FAST.core } });
    const N = 30;
    for (let i = 0; i < N; i++) await infer(agent, i);
    await agent.core.flushTelemetry();
    await agent.core.waitFor(() => {
      const d = distinct(wire);
      return rowsOf(d.captures).length + d.dropped.quota === N;
    }, 20_000);
    const d = distinct(wire);
    const rows = rowsOf(d.captures);
    expect(rows.length).toBeGreaterThan(0);
    expect(d.dropped.quota).toBeGreaterThan(0);
    // all N fell into at most two windows (60 s each): the bytes sent stay within two quotas
    const bytes = rows.reduce((n, r) => n + Buffer.byteLength(JSON.stringify(r)), 0);
    expect(bytes).toBeLessThanOrEqual(2 * 1200);
  });

  it('keeps at most the disk budget while offline, dropping the oldest rows first and counting them', async () => {
    const wire = await tap('dev-disk');
    const agent = await serve('dev-disk', { diskBytes: 2000 });
    await h.down();
    const N = 40;
    for (let i = 0; i < N; i++) await infer(agent, i);
    await agent.core.flushTelemetry();
    await h.up();
    await agent.core.waitFor(() => {
      const d = distinct(wire);
      return rowsOf(d.captures).length + d.dropped.disk === N;
    }, 30_000);
    const d = distinct(wire);
    const ids = rowsOf(d.captures).map((r) => Number(r.id.slice(1)));
    expect(d.dropped.disk).toBeGreaterThan(0);
    expect(rowsOf(d.captures).reduce((n, r) => n + Buffer.byteLength(JSON.stringify(r)), 0)).toBeLessThanOrEqual(2000);
    // the newest survive: the kept ids are the last ones, in order
    expect(ids).toEqual(Array.from({ length: ids.length }, (_, k) => N - ids.length + k));
  });

  it('captures nothing when the device operator turned capture off, in the config or at run time', async () => {
    const wire = await tap('dev-off');
    const agent = await serve('dev-off', {}, {}, h.agentConfig('dev-off', { capture: { enabled: false } }));
    for (let i = 0; i < 5; i++) await infer(agent, i);
    await agent.core.flushTelemetry();
    expect(agent.core.captureEnabled).toBe(false);
    await agent.core.setCapture(true); // the config's `false` wins
    for (let i = 5; i < 10; i++) await infer(agent, i);
    await agent.core.flushTelemetry();
    await agent.core.waitFor(() => wire.length > 0, 20_000);
    expect(distinct(wire).captures).toEqual([]);

    const wire2 = await tap('dev-off2');
    const other = await serve('dev-off2', {});
    await h.down();
    for (let i = 0; i < 3; i++) await infer(other, i, `before-${i}`);
    await other.core.flushTelemetry(); // queued in the outbox, not sent: the switch takes them back too
    await other.core.setCapture(false);
    await h.up();
    for (let i = 0; i < 5; i++) await infer(other, i);
    await other.core.flushTelemetry();
    await other.core.waitFor(() => distinct(wire2).dropped.disk === 3, 20_000);
    expect(distinct(wire2).captures).toEqual([]);
    expect(other.core.captureEnabled).toBe(false);
  });

  it('sends late labels for captured rows and captures a contradicted prediction with its label', async () => {
    const wire = await tap('dev-label');
    const agent = await serve('dev-label', { rate: 0, triggers: { labelContradiction: true } });
    const topOf = (r: Awaited<ReturnType<typeof infer>>) => {
      const p = Array.from(r.outputs.probabilities!.data as Float32Array);
      return p.indexOf(Math.max(...p));
    };
    const top = topOf(await infer(agent, 1, 'keep'));
    const wrong = ['a', 'b', 'c'][(top + 1) % 3]!;
    const right = ['a', 'b', 'c'][top]!;
    const top2 = topOf(await infer(agent, 2, 'agree'));
    await agent.feedback('m', 'keep', wrong);
    await agent.feedback('m', 'agree', ['a', 'b', 'c'][top2]!);
    await agent.core.flushTelemetry();
    await agent.core.waitFor(() => distinct(wire).captures.length >= 2, 20_000);
    const caps = distinct(wire).captures;
    const row = rowsOf(caps).find((c) => c.id === 'keep');
    expect(row).toMatchObject({ trigger: 'label-contradiction', label: wrong, prediction: right });
    expect(rowsOf(caps).find((c) => c.id === 'agree')).toBeUndefined(); // a confirmed prediction is not captured
    expect(caps.find((c) => c.kind === 'label' && c.id === 'agree')).toMatchObject({ label: ['a', 'b', 'c'][top2] });
  });

  it('captures on triggers alone: low confidence, a feature in the reference tail, a shadow that disagrees', async () => {
    const wire = await tap('dev-trig');
    const m1 = await h.manifest({ name: 'm', version: '1.0.0', release: 1, bytes: classifier(1), features: FEATURES });
    const m2 = await h.manifest({ name: 'm', version: '2.0.0', release: 2, bytes: classifier(2), features: FEATURES });
    const agent = make(h.agentConfig('dev-trig'));
    await agent.start();
    const rule = { model: 'm', version: '1.0.0', rate: 0, triggers: { lowConfidence: 0.5, tail: ['f3'], shadowDisagreement: true }, windowBytes: 1 << 20, diskBytes: 1 << 20, hash: [], redact: [] };
    await h.desired('dev-trig', [{ envelope: m1.envelope }, { envelope: m2.envelope, role: 'shadow' }], { telemetry: { capture: [rule] } });
    await agent.core.waitFor(() => agent.core.slots().m?.active?.version === '1.0.0' && agent.core.slots().m?.shadow?.version === '2.0.0');
    const top = (r: Awaited<ReturnType<typeof infer>>) => {
      const p = Array.from(r.outputs.probabilities!.data as Float32Array);
      return { cls: p.indexOf(Math.max(...p)), conf: Math.max(...p) };
    };
    const want = new Map<string, string>();
    const N = 40;
    for (let i = 0; i < N; i++) {
      const active = top(await infer(agent, i));
      // the shadow's answer for the same input (a pinned call to the shadow version: no capture, role shadow)
      const shadow = top(await agent.infer('m', { features: { type: 'float32', dims: [1, FEATURES], data: input(i) } }, { version: '2.0.0', id: `s${i}` }));
      const f3 = input(i)[3]!;
      if (active.conf < 0.5) want.set(`p${i}`, 'low-confidence');
      else if (f3 < -0.5 || f3 >= 0.5) want.set(`p${i}`, 'tail');
      else if (active.cls !== shadow.cls) want.set(`p${i}`, 'shadow-disagreement');
    }
    await new Promise((r) => setTimeout(r, 200)); // the shadow copies run off the hot path
    await agent.core.flushTelemetry();
    await agent.core.waitFor(() => rowsOf(distinct(wire).captures).length >= want.size, 20_000);
    await new Promise((r) => setTimeout(r, 300));
    const got = new Map(rowsOf(distinct(wire).captures).map((r) => [r.id, r.trigger as string]));
    expect(new Set(want.values())).toEqual(new Set(['low-confidence', 'tail', 'shadow-disagreement'])); // each trigger fired
    expect(got).toEqual(want);
  });

  it('survives a restart while offline: every captured row reaches the broker once', async () => {
    const wire = await tap('dev-restart');
    const dataDir = tmpDir();
    const config = h.agentConfig('dev-restart');
    const first = await serve('dev-restart', {}, { dataDir }, config);
    await h.down();
    const N = 15;
    for (let i = 0; i < N; i++) await infer(first, i);
    await first.stop();
    agents.splice(agents.indexOf(first), 1);
    const second = make(config, { dataDir });
    await second.start();
    await h.up();
    await second.core.waitFor(() => rowsOf(distinct(wire).captures).length >= N, 30_000);
    await second.core.flushTelemetry();
    const ids = rowsOf(distinct(wire).captures).map((r) => r.id);
    expect(ids.sort()).toEqual(Array.from({ length: N }, (_, i) => `p${i}`).sort());
  });
});
