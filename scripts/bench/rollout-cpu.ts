// What a rollout wave costs the hub and one agent, in CPU seconds of their own processes (design §11), each
// against its floor measured in the same run:
// - rollout.hub_cpu: the hub in its own process takes 200 agents (this process) from POST /rollouts to all
//   serving a 4 MB model; floor: a bare aedes process publishing the same chunks once to 200 subscribers.
//   Both sides' second run: the hub's first wave (another model) and the broker's first fan-out warm them up
//   (V8 compiling the hub's code was a fifth of its cold wave's CPU in perf; a second run costs the hub 20-35 %
//   and the broker ~40 % less CPU); the cold figures are in the note.
// - rollout.frames_per_chunk: the chunk frames the hub published for that wave / the artifact's chunks.
// - rollout.agent_activate: one real agent (its own process and onnxruntime session) updating to a new 4 MB
//   model: verify, download, hash, store, load, self-test, swap; floor: sha256, write + fsync,
//   InferenceSession.create and one run of the same size of model in a bare process that already holds a
//   session (as the agent does); medians of 5 updates and 5 bare passes. rollout.agent_activate_with_receive:
//   the same against bare passes that first receive the same chunks as a bare mqtt.js subscriber.
// EDGEFLEET_BENCH_PROFILE=DIR: CPU profiles of the children; EDGEFLEET_BENCH_AGENT_LOG=1: the agent's log and
// each update's CPU per thread with its span on the profile's clock.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { DEFAULT_CHUNK_SIZE } from '@edgefleet/protocol';
import { createHubClient } from '../sim/hub-client.js';
import { sizedClassifier, trainVibrationModels } from '../sim/models.js';
import { activateFleet } from './rollout.js';
import { startChild, type Child } from './_child.js';
import { median, round, type BenchEntry, type Benchmark } from './harness.js';

const DEVICES = Number(process.env.EDGEFLEET_BENCH_WAVE_DEVICES ?? 200);
const UPDATES = 5;
const SIZE = 4 * 1024 * 1024; // = FANOUT_MODEL_BYTES of _fanout-child.ts

/** A child's "cpu" answer (its CPU seconds in `cpu`, and what else it counts). */
const cpuOf = async (c: Child, span?: string): Promise<{ cpu: number } & Record<string, unknown>> => {
  const a = await c.ask('cpu');
  // the profile's timestamps of a measured span's ends (EDGEFLEET_BENCH_PROFILE): cut the profile to them
  if (span && process.env.EDGEFLEET_BENCH_PROFILE) process.stderr.write(`profile ${span}: pid ${String(a.pid)} at ${String(a.at)} µs ${JSON.stringify(a)}\n`);
  return a as { cpu: number } & Record<string, unknown>;
};

interface BareBroker {
  cpu: number;
  seconds: number;
  /** Its first fan-out's CPU seconds. */
  cold: number;
  writes: number;
  reads: number;
}

/** CPU seconds of a bare aedes process publishing the model's chunks once, QoS 1, to `DEVICES` subscribers here:
 *  its second such fan-out, as the hub's measured wave is its second (the first warms both up). */
async function bareBrokerCpu(): Promise<BareBroker> {
  const broker = await startChild('broker');
  const url = broker.first.url as string;
  const chunks = broker.first.chunks as number;
  const clients: MqttClient[] = [];
  try {
    const got = new Array<number>(DEVICES).fill(0);
    let complete = 0;
    let done: () => void = () => undefined;
    for (let i = 0; i < DEVICES; i++) {
      const c = await mqtt.connectAsync(url, { clientId: `sub-${i}`, protocolVersion: 4, reconnectPeriod: 0, clean: true });
      clients.push(c);
      c.on('message', () => ++got[i]! === chunks && ++complete === DEVICES && done());
      await c.subscribeAsync('bench/fanout', { qos: 1 });
    }
    const fanOut = async (): Promise<{ cpu: number; seconds: number; writes: number; reads: number }> => {
      got.fill(0);
      complete = 0;
      const all = new Promise<void>((r) => (done = r));
      const start = await cpuOf(broker, 'broker start');
      const t0 = process.hrtime.bigint();
      broker.send('go');
      await all;
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const end = await cpuOf(broker, 'broker end');
      return { cpu: end.cpu - start.cpu, seconds, writes: (end.syscw as number) - (start.syscw as number), reads: (end.syscr as number) - (start.syscr as number) };
    };
    const cold = await fanOut();
    return { ...(await fanOut()), cold: cold.cpu };
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
  /** The hub's first wave (code not compiled yet): CPU seconds, chunk frames. */
  coldHubCpu: number;
  coldFrames: number;
  seconds: number;
  frames: number;
  multicast: number;
  chunks: number;
  agentCpu: number[];
  bareBroker: BareBroker;
  /** The hub's write and read syscalls during the measured wave. */
  writes: number;
  reads: number;
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
    let coldStart: Record<string, unknown> = {};
    let coldEnd: Record<string, unknown> = {};
    let start: Record<string, unknown> = {};
    let end: Record<string, unknown> = {};
    // the first wave (0.9.0) warms the hub up unmeasured but for its totals: a running hub's waves after its first run on compiled code
    const seconds = await activateFleet({ http, token }, model, DEVICES, join(dir, 'fleet'), {
      warmup: {
        model: sizedClassifier(SIZE, 20),
        onStart: async () => {
          coldStart = await cpuOf(hub, 'hub first wave start');
        },
        afterActivation: async () => {
          coldEnd = await cpuOf(hub, 'hub first wave end');
        },
      },
      onStart: async () => {
        start = await cpuOf(hub, 'hub wave start');
      },
      afterActivation: async () => {
        end = await cpuOf(hub, 'hub wave end');
      },
    });
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
      hubCpu: (end.cpu as number) - (start.cpu as number), coldHubCpu: (coldEnd.cpu as number) - (coldStart.cpu as number), coldFrames: (coldEnd.frames as number) - (coldStart.frames as number),
      writes: (end.syscw as number) - (start.syscw as number), reads: (end.syscr as number) - (start.syscr as number),
      seconds, frames: (end.frames as number) - (start.frames as number), multicast: (end.multicast as number) - (start.multicast as number),
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
    note: `CPU seconds of the hub process (embedded aedes) from POST /rollouts until ${DEVICES} agents (another process, ${cpus().length} cores shared) serve a ${SIZE}-byte model (${w.seconds.toFixed(1)} s wall), the hub's second wave to them (its first, of another model: ${w.coldHubCpu.toFixed(3)} CPU s, ${w.coldFrames} frames — V8 still compiling the hub's code); baseline: a bare aedes process publishing the ${w.chunks} chunks once to ${DEVICES} QoS 1 subscribers (${w.bareBroker.seconds.toFixed(1)} s wall), its second fan-out (first: ${w.bareBroker.cold.toFixed(3)} CPU s; cold ratio ${(w.coldHubCpu / w.bareBroker.cold).toFixed(2)}); syscalls in the span: hub ${w.writes} writes, ${w.reads} reads; bare broker ${w.bareBroker.writes} writes, ${w.bareBroker.reads} reads; goal ratio ≤ 1.5`,
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
