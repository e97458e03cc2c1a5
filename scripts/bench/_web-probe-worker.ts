// Bundled by the web bench's stand to /device/bench/probe-worker.js and imported inside the device page's own
// agent Worker (playwright worker.evaluate): times blocks of the agent's `run` (the agent the worker started,
// `globalThis.edgefleetAgent`) and of bare onnxruntime-web `session.run` on the same model bytes, inputs and
// session options, in that same worker. performance.now() is coarsened to 100 µs on a page that is not
// cross-origin isolated, so calls are timed in blocks, never one by one.

import * as ort from 'onnxruntime-web/wasm';
import { watchInstall, type InstallTimes, type WatchedCore } from './_install-watch.js';

interface Tensor {
  type: 'float32';
  dims: number[];
  data: Float32Array;
}
interface WorkerAgent extends WatchedCore {
  run(name: string, feeds: Record<string, Tensor>): Promise<unknown>;
}

function agent(): WorkerAgent {
  const a = (globalThis as { edgefleetAgent?: WorkerAgent }).edgefleetAgent;
  if (!a) throw new Error('no started agent in this worker (globalThis.edgefleetAgent)');
  return a;
}

// 256 fixed rows of 6 features (an LCG), the same in every block and for both sides
const ROWS = (() => {
  let x = 12345;
  const out = new Float32Array(256 * 6);
  for (let i = 0; i < out.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = (x / 2 ** 32) * 4 - 2;
  }
  return out;
})();
const row = (i: number): Float32Array => ROWS.slice((i % 256) * 6, (i % 256) * 6 + 6);

const bare = new Map<string, ort.InferenceSession>();

/** A bare session of the model at `url` (its bytes as the hub has them), with the agent adapter's options. */
export async function loadBare(key: string, url: string, ortPrefix: string): Promise<number> {
  ort.env.wasm.wasmPaths = ortPrefix;
  ort.env.wasm.numThreads = 1; // what the agent's adapter uses on a page that is not cross-origin isolated
  ort.env.wasm.proxy = false;
  const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
  const old = bare.get(key);
  bare.set(key, await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all' }));
  await old?.release();
  return bytes.length;
}

async function block(calls: number, call: (i: number) => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) await call(i);
  return ((performance.now() - t0) * 1000) / calls;
}

/** µs per call of `calls` sequential `agent.run(model, { features: [1, 6] })`. */
export function agentBlock(model: string, calls: number): Promise<number> {
  const a = agent();
  return block(calls, (i) => a.run(model, { features: { type: 'float32', dims: [1, 6], data: row(i) } }));
}

/** µs per call of `calls` sequential bare `session.run` on the same rows. */
export function bareBlock(key: string, calls: number): Promise<number> {
  const s = bare.get(key);
  if (!s) throw new Error(`no bare session ${key}`);
  const input = s.inputNames[0]!;
  return block(calls, (i) => s.run({ [input]: new ort.Tensor('float32', row(i), [1, 6]) }));
}

/** Resolves once this worker's agent serves `model@version`, with the download phase timed. */
export function waitInstalled(model: string, version: string, timeoutMs: number): Promise<InstallTimes> {
  return watchInstall(agent(), model, version, timeoutMs);
}

export async function releaseBare(): Promise<void> {
  for (const s of bare.values()) await s.release();
  bare.clear();
}
