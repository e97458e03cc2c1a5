// What a rollout wave costs the hub and one agent, in CPU seconds of their own processes (design §11), each
// against its floor measured in the same run:
// - rollout.hub_cpu: the hub in its own process takes 200 agents (this process) from POST /rollouts to all
//   serving a 4 MB model; floor: a bare aedes process publishing the same chunks once to 200 subscribers.
// - rollout.frames_per_chunk: the chunk frames the hub published for that wave / the artifact's chunks.
// - rollout.agent_activate: one real agent (its own process and onnxruntime session) updating to a new 4 MB
//   model: verify, download, hash, store, load, self-test, swap; floor: sha256, write + fsync,
//   InferenceSession.create and one run of the same size of model in a bare process that already holds a
//   session (as the agent does); medians of 5 updates and 5 bare passes. rollout.agent_activate_with_receive:
//   the same against bare passes that first receive the same chunks as a bare mqtt.js subscriber.
// EDGEFLEET_BENCH_PROFILE=DIR: CPU profiles of the children; EDGEFLEET_BENCH_AGENT_LOG=1: the agent's log and
// each update's CPU per thread with its span on the profile's clock.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { DEFAULT_CHUNK_SIZE } from '@edgefleet/protocol';
import { createHubClient } from '../sim/hub-client.js';
import { sizedClassifier, trainVibrationModels } from '../sim/models.js';
import { activateFleet } from './rollout.js';
import { median, round, type BenchEntry, type Benchmark } from './harness.js';

const DEVICES = Number(process.env.EDGEFLEET_BENCH_WAVE_DEVICES ?? 200);
const UPDATES = 5;
const SIZE = 4 * 1024 * 1024; // = FANOUT_MODEL_BYTES of _fanout-child.ts
const CHILD = fileURLToPath(new URL('./_fanout-child.ts', import.meta.url));

interface Child {
  first: Record<string, unknown>;
  ask(line: string): Promise<Record<string, unknown>>;
  send(line: string): void;
  exit(): Promise<void>;
}

/** One `_fanout-child.ts` process: its first JSON line, then one answer line per "cpu". */
async function startChild(mode: string, arg?: string): Promise<Child> {
  // EDGEFLEET_BENCH_PROFILE=DIR: a CPU profile of each child (node --cpu-prof), for the notes on a missed goal
  const prof = process.env.EDGEFLEET_BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.EDGEFLEET_BENCH_PROFILE] : [];
  const child: ChildProcess = spawn(process.execPath, [...prof, '--import', 'tsx', CHILD, mode, ...(arg ? [arg] : [])], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const waiting: Array<{ resolve: (l: string) => void; reject: (err: Error) => void }> = [];
  lines.on('line', (l) => waiting.shift()?.resolve(l));
  child.once('exit', (code) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`${mode} child exited (${String(code)})`));
  });
  const next = () => new Promise<Record<string, unknown>>((resolve, reject) => {
    waiting.push({ resolve: (l) => resolve(JSON.parse(l) as Record<string, unknown>), reject });
  });
  const first = await next();
  return {
    first,
    ask: (line) => {
      const p = next();
      child.stdin!.write(line + '\n');
      return p;
    },
    send: (line) => child.stdin!.write(line + '\n'),
    exit: async () => {
      if (child.exitCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.stdin!.write('exit\n');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 10_000))]);
      child.kill('SIGKILL');
    },
  };
}
const cpuOf = async (c: Child, span?: string) => {
  const a = await c.ask('cpu');
  // the profile's timestamps of a measured span's ends (EDGEFLEET_BENCH_PROFILE): cut the profile to them
  if (span && process.env.EDGEFLEET_BENCH_PROFILE) process.stderr.write(`profile ${span}: pid ${String(a.pid)} at ${String(a.at)} µs ${JSON.stringify(a)}\n`);
  return a.cpu as number;
};

/** CPU seconds of a bare aedes process publishing the model's chunks once, QoS 1, to `DEVICES` subscribers here. */
async function bareBrokerCpu(): Promise<{ cpu: number; seconds: number }> {
  const broker = await startChild('broker');
  const url = broker.first.url as string;
  const chunks = broker.first.chunks as number;
  const clients: MqttClient[] = [];
  try {
    let complete = 0;
    let done: () => void = () => undefined;
    const all = new Promise<void>((r) => (done = r));
    for (let i = 0; i < DEVICES; i++) {
      const c = await mqtt.connectAsync(url, { clientId: `sub-${i}`, protocolVersion: 4, reconnectPeriod: 0, clean: true });
      clients.push(c);
      let got = 0;
      c.on('message', () => ++got === chunks && ++complete === DEVICES && done());
      await c.subscribeAsync('bench/fanout', { qos: 1 });
    }
    const cpu0 = await cpuOf(broker, 'broker start');
    const t0 = process.hrtime.bigint();
    broker.send('go');
    await all;
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    return { cpu: (await cpuOf(broker, 'broker end')) - cpu0, seconds };
  } finally {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    await broker.exit();
  }
}

/** CPU seconds per thread between two "cpu" answers of a child. */
function threadDelta(a: Record<string, unknown>, b: Record<string, unknown>): string {
  const ta = a.threads as Record<string, number>;
  const tb = b.threads as Record<string, number>;
  return Object.entries(tb).map(([k, v]) => `${k} ${(v - (ta[k] ?? 0)).toFixed(2)}`).join(', ') + ` (pid ${String(b.pid)}, ${String(a.at)}-${String(b.at)} µs)`;
}

interface WaveFigures {
  hubCpu: number;
  seconds: number;
  frames: number;
  multicast: number;
  chunks: number;
  agentCpu: number[];
  bareBroker: { cpu: number; seconds: number };
  bareSteps: number[];
  bareRecv: number[];
}

async function measureWave(): Promise<WaveFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'edgefleet-bench-wave-'));
  const hub = await startChild('hub');
  const children: Child[] = [hub];
  try {
    const http = hub.first.http as string;
    const token = hub.first.token as string;
    const model = sizedClassifier(SIZE);
    let cpu0 = 0;
    let hubCpu = 0;
    const seconds = await activateFleet({ http, token }, model, DEVICES, join(dir, 'fleet'), {
      onStart: async () => {
        cpu0 = await cpuOf(hub, 'hub wave start');
      },
      afterActivation: async () => {
        hubCpu = (await cpuOf(hub, 'hub wave end')) - cpu0;
      },
    });
    const counted = await hub.ask('cpu');
    // one agent of its own, updated to a new model of the same size
    const client = createHubClient(http, token);
    const solo = await client.addDevice('solo', { bench: 'solo' });
    const config = join(dir, 'solo.json');
    writeFileSync(config, JSON.stringify(solo.agentConfig));
    const agent = await startChild('agent', config);
    children.push(agent);
    await agent.ask('wait 1.0.0'); // the fleet's rollout names every device
    // UPDATES updates, each to a new model of the same size, against as many bare passes: one sample of
    // each side swung 1.1-1.9 on shared cores; the medians are the figure, the ranges go in the note
    const validation = trainVibrationModels().v1.validation;
    const agentCpus: number[] = [];
    for (let k = 1; k <= UPDATES; k++) {
      const version = `1.0.${k}`;
      await client.pushModel({ name: 'fanout', version, file: sizedClassifier(SIZE, 1 + k), validation });
      const before = await agent.ask('cpu');
      await client.startRollout({ model: 'fanout', version, targets: { devices: ['solo'] }, waves: [100], soak: 0 });
      const after = await agent.ask(`wait ${version}`);
      agentCpus.push((after.cpu as number) - (before.cpu as number));
      // EDGEFLEET_BENCH_AGENT_LOG: which of the agent's threads spent the update's CPU
      if (process.env.EDGEFLEET_BENCH_AGENT_LOG) process.stderr.write(`agent update ${k}: ${threadDelta(before, after)}\n`);
    }
    await agent.exit();
    // the bare passes, each after receiving the same chunks from a bare aedes (another process) as a
    // bare mqtt.js subscriber: the download's floor, which the bare steps leave out
    const source = await startChild('broker');
    children.push(source);
    const bare = await startChild('bare', source.first.url as string);
    children.push(bare);
    const bareSteps: number[] = [];
    const bareRecv: number[] = [];
    for (let k = 1; k <= UPDATES; k++) {
      const pass = await bare.ask('cpu');
      bareSteps.push(pass.bare as number);
      bareRecv.push(pass.recv as number);
    }
    await bare.exit();
    await source.exit();
    await hub.exit();
    const bareBroker = await bareBrokerCpu();
    return {
      hubCpu, seconds, frames: counted.frames as number, multicast: counted.multicast as number,
      chunks: Math.ceil(model.length / DEFAULT_CHUNK_SIZE), agentCpu: agentCpus, bareBroker, bareSteps, bareRecv,
    };
  } finally {
    for (const c of children) await c.exit().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

let wave: Promise<WaveFigures> | null = null;
const once = () => (wave ??= measureWave());

const hubCpu: Benchmark = async (): Promise<BenchEntry> => {
  const w = await once();
  return {
    value: round(w.hubCpu, 3), unit: 'cpu_s', baseline: round(w.bareBroker.cpu, 3), ratio: round(w.hubCpu / w.bareBroker.cpu, 3),
    note: `CPU seconds of the hub process (embedded aedes) from POST /rollouts until ${DEVICES} agents (another process, ${cpus().length} cores shared) serve a ${SIZE}-byte model (${w.seconds.toFixed(1)} s wall); baseline: a bare aedes process publishing the ${w.chunks} chunks once to ${DEVICES} QoS 1 subscribers (${w.bareBroker.seconds.toFixed(1)} s wall); goal ratio ≤ 1.5`,
  };
};
const framesPerChunk: Benchmark = async (): Promise<BenchEntry> => {
  const w = await once();
  return {
    value: round(w.frames / w.chunks, 3), unit: 'frames/chunk', baseline: 1, ratio: round(w.frames / w.chunks, 3),
    note: `the rollout.hub_cpu wave: ${w.frames} chunk frames published for ${w.chunks} chunks to ${DEVICES} devices, ${w.multicast} of them on the artifact's multicast topic, ${w.frames - w.multicast} unicast repairs; baseline: one publish per chunk; goal ≤ 2`,
  };
};
const range = (xs: number[]) => `${Math.min(...xs).toFixed(3)}-${Math.max(...xs).toFixed(3)}`;
const agentActivate: Benchmark = async (): Promise<BenchEntry> => {
  const w = await once();
  const agent = median(w.agentCpu);
  const bare = median(w.bareSteps);
  return {
    value: round(agent, 3), unit: 'cpu_s', baseline: round(bare, 3), ratio: round(agent / bare, 3),
    note: `median CPU seconds of one agent process (its own onnxruntime session, holding the previous model's) over ${UPDATES} updates, each to a new ${SIZE}-byte model: verify, download, hash, store, load, self-test, swap (range ${range(w.agentCpu)}); baseline: median of as many passes of sha256, write + fsync, InferenceSession.create and one run of a new model of that size in a bare process that also holds a session (range ${range(w.bareSteps)}); goal ratio ≤ 1.2`,
  };
};
const agentActivateWithReceive: Benchmark = async (): Promise<BenchEntry> => {
  const w = await once();
  const agent = median(w.agentCpu);
  const floor = median(w.bareSteps.map((b, i) => b + w.bareRecv[i]!));
  return {
    value: round(agent, 3), unit: 'cpu_s', baseline: round(floor, 3), ratio: round(agent / floor, 3),
    note: `the rollout.agent_activate updates against a floor that also downloads: each bare pass first receives the same ${w.chunks} chunks from a bare aedes process as a bare mqtt.js QoS 1 subscriber into one buffer (receive alone: median ${median(w.bareRecv).toFixed(3)}, range ${range(w.bareRecv)} CPU s), then the bare steps; informative`,
  };
};
export const benchmarks: Record<string, Benchmark> = {
  'rollout.agent_activate': agentActivate,
  'rollout.agent_activate_with_receive': agentActivateWithReceive,
  'rollout.frames_per_chunk': framesPerChunk,
  'rollout.hub_cpu': hubCpu,
};
