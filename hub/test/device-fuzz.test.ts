// Property-based fuzzing of every device → hub message (design §4): a registered device publishes, through
// the real embedded broker, a known set of valid telemetry, reported, event and status messages interleaved
// with random and adversarial payloads on all five of its topics (telemetry, reported, events, status,
// artifact/get). The hub must stay up and answer, its heap must stay bounded, and everything it reports —
// fleet status, health, raw per-device health, the device's events and reported state — must equal what a
// second hub that received only the valid messages reports.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { MqttClient } from 'mqtt';
import {
  LIMITS,
  createWindow,
  histogramAdd,
  labelAdd,
  createLabelSummary,
  topics,
  type DeviceEvent,
  type ReportedState,
  type TelemetryBatch,
  type TelemetryWindow,
} from '@edgefleet/protocol';
import type { Hub } from '@edgefleet/hub';
import { apiClient, connectDevice, endClient, hubDb, startTestHub, tempDir, tinyModel, waitFor } from './helpers.js';

const MINUTE = 60_000;
const ID = 'dev-fz';
type Kind = 'telemetry' | 'reported' | 'events' | 'status' | 'artifact-get';
interface Message {
  kind: Kind;
  payload: string | Uint8Array;
  valid: boolean;
}
const topicOf: Record<Kind, (id: string) => string> = {
  telemetry: topics.telemetry,
  reported: topics.reported,
  events: topics.events,
  status: topics.status,
  'artifact-get': topics.artifactGet,
};

// ---- valid messages ----

const now = Date.now();
const thisMinute = Math.floor(now / MINUTE) * MINUTE;

const validWindow: fc.Arbitrary<TelemetryWindow> = fc
  .record({
    minutesAgo: fc.integer({ min: 0, max: 30 }),
    role: fc.constantFrom('active' as const, 'shadow' as const),
    latencies: fc.array(fc.oneof(fc.double({ min: 0, max: 5000, noNaN: true }), fc.integer({ min: 1, max: 400 })), { maxLength: 40 }),
    failed: fc.integer({ min: 0, max: 5 }),
    classes: fc.option(fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 2, maxLength: 4 }), { nil: undefined }),
    labels: fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 })), { maxLength: 6 }),
  })
  .map((r) => {
    const start = thisMinute - r.minutesAgo * MINUTE;
    const w = createWindow('tiny', '1.0.0', r.role, start, start + MINUTE);
    for (const l of r.latencies) histogramAdd(w.latencyMs, l);
    w.inferences = r.latencies.length + r.failed;
    if (r.failed) w.errors = { INFERENCE_FAILED: r.failed };
    if (r.classes) w.outputs = { classCounts: r.classes };
    if (r.labels.length) {
      const s = createLabelSummary();
      for (const [p, a] of r.labels) labelAdd(s, p, a);
      w.labels = s;
    }
    return w;
  });

const validEvent: fc.Arbitrary<DeviceEvent> = fc.record({
  type: fc.constantFrom('activated' as const, 'probation-passed' as const, 'error' as const),
  model: fc.constant('tiny'),
  version: fc.constant('1.0.0'),
  message: fc.string({ maxLength: 40 }),
  at: fc.constant(new Date(now).toISOString()),
});

const reported = (sequence: number): ReportedState => ({
  deviceId: ID,
  agentVersion: '0.1.0',
  runtime: 'onnxruntime-node',
  platform: 'linux-x64',
  desiredSequence: sequence,
  keyringVersion: 1,
  models: {},
  resources: { uptimeSeconds: sequence },
  at: new Date(now).toISOString(),
});

// ---- hostile messages ----

/** Mutations that each make a valid batch invalid: every device-supplied size, index, count and time. */
const BREAK_BATCH: Array<(b: any) => void> = [
  (b) => (b.windows[0].latencyMs.offset += 30_000_000),
  (b) => (b.windows[0].latencyMs.offset = -(2 ** 40)),
  (b) => (b.windows[0].latencyMs.count += 1),
  (b) => ((b.windows[0].latencyMs.counts = [1e12]), (b.windows[0].latencyMs.count = 1e12 + b.windows[0].latencyMs.zeros)),
  (b) => (b.windows[0].latencyMs.counts = new Array(9000).fill(0)),
  (b) => (b.windows[0].latencyMs.alpha = 0.3),
  (b) => (b.windows[0].latencyMs.alpha = 1e-300),
  (b) => (b.windows[0].latencyMs.sum = 'NaN'),
  (b) => (b.windows[0].start = now + 86_400_000),
  (b) => ((b.windows[0].start = 0), (b.windows[0].end = MINUTE)),
  (b) => (b.windows[0].end = b.windows[0].start - 1),
  (b) => (b.windows[0].end = b.windows[0].start + 10 * 3_600_000),
  (b) => (b.windows[0].inferences = 1e15),
  (b) => (b.windows[0].inferences = -1),
  (b) => (b.windows[0].inferences = 1.5),
  (b) => (b.windows[0].errors = { INFERENCE_FAILED: 2 ** 53 }),
  (b) => (b.windows[0].errors = { NOT_A_CODE: 1 }),
  (b) => (b.windows[0].labels = { labelled: 1, correct: 1, confusion: [[1e6, 5e8, 1]] }),
  (b) => (b.windows[0].labels = { labelled: 1, correct: 9, confusion: [] }),
  (b) => (b.windows[0].outputs = { classCounts: new Array(5000).fill(1) }),
  (b) => (b.windows[0].features = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`f${i}`, { bins: [1, 0], nulls: 0, count: 1, sum: 1, sumSq: 1, min: 1, max: 1 }]))),
  (b) => (b.windows[0].features = { f: { bins: [5, 5], nulls: 0, count: 1e9, sum: 1, sumSq: 1, min: 1, max: 1 } }),
  (b) => (b.windows[0].shadow = { compared: 1, agreed: 5, dropped: 0, latencyMs: b.windows[0].latencyMs }),
  (b) => (b.windows[0].model = '../../etc'),
  (b) => (b.windows = new Array(LIMITS.windowsPerBatch + 1).fill(b.windows[0])),
  (b) => (b.deviceId = 'dev-other'),
  (b) => (b.seq = -1),
  (b) => (b.dropped = 1e30),
];

const hostileText: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  fc.json({ maxDepth: 4 }),
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 300 }),
  fc.constantFrom(
    '',
    'null',
    '[]',
    '{}',
    '"online"x',
    '1e999',
    '{"__proto__":{"polluted":true}}',
    '['.repeat(60_000),
    `{"pad":"${'x'.repeat(LIMITS.telemetry)}"}`,
    '\uFEFF{"deviceId":',
  ),
);

/** One hostile message for a topic; `base` is a valid batch it may be derived from (same seq: no dedup record may be left). */
function hostile(base: TelemetryBatch): fc.Arbitrary<Message> {
  const broken = fc.integer({ min: 0, max: BREAK_BATCH.length - 1 }).map((i): Message => {
    const b = structuredClone(base) as any;
    if (b.windows.length === 0) b.windows.push(createWindow('tiny', '1.0.0', 'active', thisMinute, thisMinute + MINUTE));
    BREAK_BATCH[i]!(b);
    return { kind: 'telemetry', payload: JSON.stringify(b), valid: false };
  });
  const brokenReported = fc
    .constantFrom<Array<(r: any) => void>>(
      (r) => (r.deviceId = 'dev-other'),
      (r) => (r.models = { tiny: { active: { version: 'x', release: 0, sha256: 'z' }, state: 'active' } }),
      (r) => (r.models = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`m${i}`, { active: null, previous: null, shadow: null, state: 'idle' }]))),
      (r) => (r.desiredSequence = -5),
      (r) => (r.at = 'yesterday'),
    )
    .map((f): Message => {
      const r = structuredClone(reported(1)) as any;
      f(r);
      return { kind: 'reported', payload: JSON.stringify(r), valid: false };
    });
  const brokenEvent = fc
    .constantFrom(
      { type: 'party', message: 'x', at: new Date(now).toISOString() },
      { type: 'activated', message: 'x'.repeat(5000), at: new Date(now).toISOString() },
      { type: 'activated', message: 'x', at: 'soon' },
      { type: 'activated', model: 'A B', message: 'x', at: new Date(now).toISOString() },
    )
    .map((e): Message => ({ kind: 'events', payload: JSON.stringify(e), valid: false }));
  const brokenGet = fc
    .record({ sha256: fc.constantFrom('a'.repeat(64), 'zz', ''), chunks: fc.array(fc.oneof(fc.integer(), fc.double(), fc.constant(2 ** 32)), { maxLength: 70 }) })
    .map((g): Message => ({ kind: 'artifact-get', payload: JSON.stringify(g), valid: false }));
  const random = fc
    .tuple(fc.constantFrom<Kind>('telemetry', 'reported', 'events', 'status', 'artifact-get'), hostileText)
    .map(([kind, payload]): Message => ({ kind, payload, valid: false }));
  return fc.oneof(broken, broken, brokenReported, brokenEvent, brokenGet, random);
}

/** A run: valid messages in order (telemetry seqs 1…n, reported sequences rising), hostile ones interleaved. */
const scenario: fc.Arbitrary<Message[]> = fc
  .tuple(fc.array(fc.array(validWindow, { maxLength: 4 }), { minLength: 10, maxLength: 25 }), fc.array(validEvent, { maxLength: 3 }))
  .chain(([batches, events]) => {
    const valid: Message[] = batches.map((windows, i) => ({
      kind: 'telemetry' as const,
      payload: JSON.stringify({ deviceId: ID, seq: i + 1, windows, dropped: 0 } satisfies TelemetryBatch),
      valid: true,
    }));
    events.forEach((e) => valid.push({ kind: 'events', payload: JSON.stringify(e), valid: true }));
    valid.push({ kind: 'reported', payload: JSON.stringify(reported(1)), valid: true });
    valid.push({ kind: 'status', payload: 'online', valid: true });
    const bases = batches.map((windows, i): TelemetryBatch => ({ deviceId: ID, seq: i + 1, windows, dropped: 0 }));
    return fc
      .array(fc.tuple(fc.nat({ max: valid.length }), fc.constantFrom(...bases).chain(hostile)), { minLength: 60, maxLength: 120 })
      .map((hostiles) => {
        const out = valid.map((m) => [m]);
        out.push([]);
        // a hostile message goes before the valid message at its position (so a broken copy of batch k precedes batch k)
        for (const [at, h] of hostiles) out[at]!.unshift(h);
        return summarized(out.flat());
      });
  });

/** A failing run is reported by its shape (kinds, sizes), not hundreds of kilobytes of payloads. */
function summarized(messages: Message[]): Message[] {
  return Object.assign(messages, {
    [fc.toStringMethod]: () =>
      messages.map((m) => `${m.valid ? '+' : '-'}${m.kind}:${m.payload.length}B:${typeof m.payload === 'string' ? JSON.stringify(m.payload.slice(0, 80)) : 'binary'}`).join('\n'),
  });
}

interface Side {
  hub: Hub;
  dir: ReturnType<typeof tempDir>;
  api: ReturnType<typeof apiClient>;
  device: MqttClient;
}

async function startSide(): Promise<Side> {
  const dir = tempDir();
  const hub = await startTestHub(dir.path, { alarms: false });
  const api = apiClient(hub.urls.http, hub.adminToken);
  expect((await api.pushModel(tinyModel(), { name: 'tiny', version: '1.0.0' })).status).toBe(201);
  const token = (await api.post('/devices', { id: ID })).body.token as string;
  const device = await connectDevice(hub.urls.mqtt!, ID, token);
  return { hub, dir, api, device };
}

async function stopSide(s: Side | undefined): Promise<void> {
  if (!s) return;
  await endClient(s.device);
  await s.hub.close();
  s.dir.remove();
}

async function publishAll(s: Side, messages: readonly Message[]): Promise<void> {
  for (const m of messages) await s.device.publishAsync(topicOf[m.kind](ID), Buffer.from(m.payload), { qos: 1 });
  // every message was acknowledged by the broker; wait until ingest has seen them all, then commit
  const settled = () => hubDb(s.hub).prepare('SELECT COUNT(*) AS n FROM telemetry_batches WHERE device_id = ?').get(ID) as { n: number };
  const expected = messages.filter((m) => m.valid && m.kind === 'telemetry').length;
  await waitFor(async () => (await s.hub.flush(), settled().n === expected), 'every valid batch committed');
}

/** edgefleet_rejected_messages_total over every reason and topic, from the hub's /metrics. */
async function rejectedTotal(s: Side): Promise<number> {
  const text = await (await fetch(`${s.hub.urls.http}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^edgefleet_rejected_messages_total\{[^}]*\} (\d+)$/gm)) n += Number(m[1]);
  return n;
}

/** What the hub says about the device and its model version, minus clocks. */
async function observe(s: Side) {
  const range = `from=${thisMinute - 60 * MINUTE}&to=${thisMinute + 5 * MINUTE}`;
  const status = await s.api.get('/fleet/status');
  expect(status.status).toBe(200);
  const health = await s.api.get(`/health?model=tiny&version=1.0.0&${range}`);
  const perDevice = await s.api.get(`/health?model=tiny&version=1.0.0&device=${ID}&role=active&${range}`);
  const shadow = await s.api.get(`/health?model=tiny&version=1.0.0&device=${ID}&role=shadow&${range}`);
  const device = await s.api.get(`/devices/${ID}`);
  expect([health.status, perDevice.status, shadow.status, device.status]).toEqual([200, 200, 200, 200]);
  return {
    fleet: status.body.health,
    health: health.body,
    perDevice: perDevice.body,
    shadow: shadow.body,
    events: device.body.events.map((e: Record<string, unknown>) => [e.type, e.message, e.at]),
    reported: device.body.device.reported,
    status: device.body.device.status,
  };
}

describe('device message fuzzing', () => {
  let valid: Side | undefined;
  let target: Side | undefined;
  beforeAll(async () => {
    [valid, target] = await Promise.all([startSide(), startSide()]);
  });
  afterAll(async () => {
    await Promise.all([stopSide(valid), stopSide(target)]);
  });

  it('stays up, keeps its heap bounded, and reports exactly the health of the valid messages alone', async () => {
    let run = 0;
    let counted = 0;
    const heapBefore = process.memoryUsage().heapUsed;
    await fc.assert(
      fc.asyncProperty(scenario, async (messages) => {
        run++;
        // each run talks about a fresh device history: remove and re-add the device on both hubs
        if (run > 1) {
          for (const s of [valid!, target!]) {
            await endClient(s.device);
            await s.api.del(`/devices/${ID}`);
            const token = (await s.api.post('/devices', { id: ID })).body.token as string;
            s.device = await connectDevice(s.hub.urls.mqtt!, ID, token);
          }
        }
        // every hostile message is refused and counted, but an empty payload: on reported or status it clears a
        // retained message, on events or telemetry it is the hub's own clear of a copy a broker kept (ingest.ts)
        counted += messages.filter((m) => !m.valid && !(m.payload.length === 0 && m.kind !== 'artifact-get')).length;
        await publishAll(valid!, messages.filter((m) => m.valid));
        await publishAll(target!, messages);
        await waitFor(async () => (await rejectedTotal(target!)) === counted, 'every hostile message counted');
        const [want, got] = await Promise.all([observe(valid!), observe(target!)]);
        expect(got).toEqual(want);
        expect(got.reported?.desiredSequence).toBe(1);
        expect(got.fleet.find((h: { role: string }) => h.role === 'active')?.inferences ?? 0).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 2, endOnFailure: true },
    );
    expect(counted).toBeGreaterThanOrEqual(100);
    expect(await rejectedTotal(valid!)).toBe(0);
    // bounded: the hostile payloads (each within its topic's cap) left no lasting allocation behind
    expect(process.memoryUsage().heapUsed).toBeLessThan(heapBefore + 256 * 1024 * 1024);
    // still serving devices: a newly added one connects, publishes, and is counted
    const token = (await target!.api.post('/devices', { id: 'dev-fz2' })).body.token as string;
    const fresh = await connectDevice(target!.hub.urls.mqtt!, 'dev-fz2', token);
    try {
      const w = createWindow('tiny', '1.0.0', 'active', thisMinute, thisMinute + MINUTE);
      histogramAdd(w.latencyMs, 3);
      w.inferences = 1;
      await fresh.publishAsync(topics.telemetry('dev-fz2'), JSON.stringify({ deviceId: 'dev-fz2', seq: 1, windows: [w], dropped: 0 }), { qos: 1 });
      await waitFor(async () => (await target!.hub.flush(), (await target!.api.get(`/health?model=tiny&version=1.0.0&device=dev-fz2`)).body.totals.inferences === 1), 'the new device counted');
    } finally {
      await endClient(fresh);
    }
  });
});
