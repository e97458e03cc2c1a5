// Benchmarks of @edgefleet/agent (design §11), each against its baseline in the same run:
// - agent.infer.overhead.{tiny,5mb}: median per-call `agent.infer()` (telemetry on) / bare onnxruntime
//   `session.run()` on the same model bytes and inputs, in this process — goal ≤ 1.05;
// - agent.http.overhead_us: local OIP HTTP infer (keep-alive client) minus in-process `agent.infer()`;
// - agent.rss_mb: the real `edgefleet-agent` bin, idle with one small model active, in its own process;
//   baseline: a bare node process holding an onnxruntime session of the same model.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent as HttpAgent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAgent, type Agent } from '@edgefleet/agent'; // first: its ort-env keeps the baseline's onnxruntime from phoning home too
import * as ort from 'onnxruntime-node';
import { startHub, type HubOptions } from '@edgefleet/hub';
import { startChild } from './_child.js';
import { createHubClient } from '../sim/hub-client.js';
import { sizedClassifier, trainVibrationModels } from '../sim/models.js';
import { generateVibrationDataset } from '../lib/train.js';
import { median, round, type BenchEntry, type Benchmark } from './harness.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

interface Setup {
  agent: Agent;
  dir: string;
  models: Record<string, Uint8Array>;
  close(): Promise<void>;
}

/**
 * A hub in a process of its own (_fanout-child.ts), one real agent in this one, and the given models rolled
 * out to it and active (validated on the vibration rows unless `validations` names a model's own JSONL).
 * The hub stays out of this process as it is off a device: its store's AsyncLocalStorage turns on promise
 * hooks for every promise in the process (+0.3-0.4 µs a call on bare `session.run`), and its event loop
 * would share the agent's. Shared with explain.ts and capture.ts.
 */
export async function agentWith(models: Record<string, Uint8Array>, api: boolean, validations: Record<string, string> = {}, hubOptions: Partial<HubOptions> = {}): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'edgefleet-bench-agent-'));
  const hub = await startChild('hub', JSON.stringify(hubOptions));
  let agent: Agent | null = null;
  const close = async () => {
    await agent?.stop();
    await hub.exit();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const client = createHubClient(hub.first.http as string, hub.first.token as string);
    const validation = trainVibrationModels().v1.validation;
    for (const [name, bytes] of Object.entries(models)) await client.pushModel({ name, version: '1.0.0', file: bytes, validation: validations[name] ?? validation });
    const { agentConfig } = await client.addDevice('bench-agent');
    agent = createAgent(agentConfig, { dataDir: join(dir, 'agent'), api: api ? '127.0.0.1:0' : false });
    await agent.start();
    for (const name of Object.keys(models)) await client.startRollout({ model: name, version: '1.0.0', targets: { all: true } });
    const a = agent;
    await a.core.waitFor(() => Object.keys(models).every((m) => a.core.slots()[m]?.active?.version === '1.0.0'), 120_000);
    return { agent: a, dir, models, close };
  } catch (err) {
    await close();
    throw err;
  }
}

const ROWS = generateVibrationDataset({ n: 256, seed: 3 }).X.data;
export const input = (i: number) => ROWS.slice((i % 256) * 6, (i % 256) * 6 + 6);

/** Per-call times (ns) of `call`, `calls` sequential awaited calls. */
async function timeCalls(call: (i: number) => Promise<unknown>, calls: number, into: number[]): Promise<void> {
  for (let i = 0; i < calls; i++) {
    const t0 = process.hrtime.bigint();
    await call(i);
    into.push(Number(process.hrtime.bigint() - t0));
  }
}

/** Median per-call ns of candidate and baseline, timed in alternating blocks so load drift hits both. */
export async function compareCalls(
  candidate: (i: number) => Promise<unknown>,
  baseline: (i: number) => Promise<unknown>,
  { blocks = 20, calls = 250, warmup = 500 } = {},
): Promise<{ candidate: number; baseline: number; samples: number }> {
  await timeCalls(candidate, warmup, []);
  await timeCalls(baseline, warmup, []);
  const c: number[] = [];
  const b: number[] = [];
  for (let k = 0; k < blocks; k++) {
    await timeCalls(candidate, calls, c);
    await timeCalls(baseline, calls, b);
  }
  return { candidate: median(c), baseline: median(b), samples: c.length };
}

async function inferOverhead(): Promise<Record<string, BenchEntry>> {
  const tiny = trainVibrationModels().v1.bytes;
  const big = sizedClassifier(5 * 1024 * 1024);
  const s = await agentWith({ tiny, big }, false);
  try {
    const out: Record<string, BenchEntry> = {};
    for (const [key, name] of [['tiny', 'tiny'], ['5mb', 'big']] as const) {
      const bytes = s.models[name]!;
      // the same session options the agent's onnxruntime adapter uses (createOnnxRuntime defaults)
      const bare = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all' });
      try {
        const r = await compareCalls(
          (i) => s.agent.infer(name, { features: { type: 'float32', dims: [1, 6], data: input(i) } }),
          (i) => bare.run({ features: new ort.Tensor('float32', input(i), [1, 6]) }),
          name === 'big' ? { blocks: 12, calls: 100, warmup: 100 } : { warmup: 5000 },
        );
        out[key] = {
          value: round(r.candidate / 1000, 4),
          unit: 'µs/call',
          baseline: round(r.baseline / 1000, 4),
          ratio: round(r.candidate / r.baseline, 4),
          note: `median of ${r.samples} calls each, one row, telemetry on (60 s windows, feature bins, class counts); ${bytes.length} byte model; goal ratio ≤ 1.05`,
        };
      } finally {
        await bare.release();
      }
    }
    return out;
  } finally {
    await s.close();
  }
}

async function httpOverhead(): Promise<BenchEntry> {
  const tiny = trainVibrationModels().v1.bytes;
  const s = await agentWith({ tiny }, true);
  const keepAlive = new HttpAgent({ keepAlive: true, maxSockets: 1 });
  try {
    const url = new URL(`${s.agent.apiUrl}/v2/models/tiny/infer`);
    const bodies = Array.from({ length: 256 }, (_, i) =>
      JSON.stringify({ inputs: [{ name: 'features', shape: [1, 6], datatype: 'FP32', data: Array.from(input(i)) }] }),
    );
    const post = (target: URL, i: number) =>
      new Promise<void>((resolve, reject) => {
        const body = bodies[i % 256]!;
        const req = request(
          { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent: keepAlive, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
          (res) => {
            res.resume();
            res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    // the physical floor of the HTTP path: a bare node:http server parsing and answering the same JSON
    const echo = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const parsed = JSON.parse(body) as unknown;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ outputs: parsed }));
      });
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const echoUrl = new URL(`http://127.0.0.1:${(echo.address() as AddressInfo).port}/`);
    try {
      const inproc = (i: number) => s.agent.infer('tiny', { features: { type: 'float32', dims: [1, 6], data: input(i) } });
      const r = await compareCalls((i) => post(url, i), inproc, { blocks: 10, calls: 200, warmup: 300 });
      const e = await compareCalls((i) => post(echoUrl, i), inproc, { blocks: 10, calls: 200, warmup: 300 });
      const added = r.candidate - r.baseline;
      const floor = e.candidate;
      return {
        value: round(added / 1000, 4),
        unit: 'µs/call',
        baseline: round(floor / 1000, 4),
        ratio: round(added / floor, 4),
        note: `median POST /v2/models/tiny/infer ${(r.candidate / 1000).toFixed(1)} µs vs in-process agent.infer ${(r.baseline / 1000).toFixed(1)} µs (node:http keep-alive client in the same process, one row as JSON); value = the difference; baseline: round trip to a bare node:http server parsing and answering the same JSON (${(floor / 1000).toFixed(1)} µs)`,
      };
    } finally {
      echo.close();
    }
  } finally {
    keepAlive.destroy();
    await s.close();
  }
}

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

function waitExit(p: ChildProcess): Promise<void> {
  return p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((r) => p.once('exit', () => r()));
}

const BARE = `
const ort = require('onnxruntime-node');
const fs = require('node:fs');
ort.InferenceSession.create(fs.readFileSync(process.argv[1]), { graphOptimizationLevel: 'all' }).then(async (s) => {
  await s.run({ features: new ort.Tensor('float32', new Float32Array(6), [1, 6]) });
  process.stdout.write('ready\\n');
  setInterval(() => {}, 1000);
});
`;

async function rss(): Promise<BenchEntry> {
  const tiny = trainVibrationModels().v1.bytes;
  const dir = mkdtempSync(join(tmpdir(), 'edgefleet-bench-rss-'));
  const hub = await startHub({ dataDir: join(dir, 'hub'), http: '127.0.0.1:0', mqtt: '127.0.0.1:0', ws: null });
  const children: ChildProcess[] = [];
  try {
    const client = createHubClient(hub.urls.http, hub.adminToken);
    await client.pushModel({ name: 'tiny', version: '1.0.0', file: tiny, validation: trainVibrationModels().v1.validation });
    const { agentConfig } = await client.addDevice('bench-rss');
    writeFileSync(join(dir, 'agent.json'), JSON.stringify(agentConfig));
    await client.startRollout({ model: 'tiny', version: '1.0.0', targets: { all: true } });
    // the real bin (built dist), as a device would run it, with its local API on
    const agent = spawn(process.execPath, [join(root, 'agent/bin/edgefleet-agent.js'), '--config', join(dir, 'agent.json'), '--data', join(dir, 'agent'), '--api', '127.0.0.1:0', '--quiet'], { stdio: ['ignore', 'ignore', 'inherit'] });
    children.push(agent);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const d = (await client.devices()).find((x) => x.id === 'bench-rss');
      const m = (d?.reported as { models?: Record<string, { active?: { version: string } | null }> } | null)?.models?.tiny;
      if (m?.active?.version === '1.0.0') break;
      if (Date.now() > deadline) throw new Error('the agent did not activate the model within 60 s');
      await new Promise((r) => setTimeout(r, 200));
    }
    const modelFile = join(dir, 'tiny.onnx');
    writeFileSync(modelFile, tiny);
    const bare = spawn(process.execPath, ['-e', BARE, modelFile], { stdio: ['ignore', 'pipe', 'inherit'], cwd: join(root, 'agent') });
    children.push(bare);
    await new Promise<void>((resolve) => bare.stdout!.once('data', () => resolve()));
    // idle: sample both for a few seconds after they settle, take the median
    await new Promise((r) => setTimeout(r, 3000));
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < 10; i++) {
      a.push(rssOf(agent.pid!));
      b.push(rssOf(bare.pid!));
      await new Promise((r) => setTimeout(r, 300));
    }
    const mb = (x: number) => round(x / 1048576, 4);
    return {
      value: mb(median(a)),
      unit: 'MB',
      baseline: mb(median(b)),
      ratio: round(median(a) / median(b), 3),
      note: `VmRSS of the edgefleet-agent bin (dist), idle, one ${tiny.length}-byte model active, MQTT connected, local API on; baseline: bare node holding an onnxruntime-node session of the same model; goal ≤ 80 MB`,
    };
  } finally {
    for (const c of children) {
      c.kill('SIGTERM');
      await waitExit(c);
    }
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const benchmarks: Record<string, Benchmark> = {
  'agent.infer.overhead': inferOverhead,
  'agent.http.overhead_us': httpOverhead,
  'agent.rss_mb': rss,
};
