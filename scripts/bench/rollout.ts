// rollout.fanout (design §11): 200 simulated agents (real agents in this process, one MQTT connection each)
// activate a 4 MB model through a rollout with one 100% wave and no soak — seconds from POST /rollouts to
// every agent serving it — against the physical best through the same broker software in the same process:
// one publisher sending each chunk once to a topic all 200 subscribe to (aedes fan-out). Goal ratio ≤ 1.5.
// It mostly measures 200 agents hashing, loading and self-testing on shared cores: an informative row.
// What the hub itself costs, apart from the agents, is in rollout.hub_cpu, rollout.frames_per_chunk and
// rollout.agent_activate (rollout-cpu.ts).

import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CHUNK_SIZE } from '@edgefleet/protocol';
import { startHub } from '@edgefleet/hub';
import { createSimulatedFleet, type SimulatedFleet } from '../sim/fleet.js';
import { rawFanout, startPlainAedes } from '../sim/broker-load.js';
import { sizedClassifier, trainVibrationModels } from '../sim/models.js';
import { round, type BenchEntry, type Benchmark } from './harness.js';

const DEVICES = 200;
const SIZE = 4 * 1024 * 1024;

/** Seconds for the raw fan-out of `bytes` to `DEVICES` subscribers through a plain aedes in this process. */
export async function aedesFanout(bytes: Uint8Array): Promise<number> {
  const broker = await startPlainAedes();
  try {
    return await rawFanout(broker.url, DEVICES, bytes, DEFAULT_CHUNK_SIZE);
  } finally {
    await broker.close();
  }
}

export interface ActivationOptions {
  /** Called right before POST /rollouts (the clock starts). */
  onStart?: () => void | Promise<void>;
  /** How long the agents may take (default 240 s). */
  timeoutMs?: number;
  /** Runs with the fleet still up once every agent serves the model. */
  afterActivation?: (fleet: SimulatedFleet) => Promise<void>;
  /** A model rolled out to the whole fleet first (version 0.9.0, unmeasured): the measured wave is then the
   *  hub's second, on code already compiled, as every wave of a running hub after its first. */
  warmup?: { model: Uint8Array; onStart?: () => Promise<void>; afterActivation?: () => Promise<void> };
}

/** Seconds from POST /rollouts until `devices` simulated agents enrolled at `hub` (HTTP API) all serve the model. */
export async function activateFleet(hub: { http: string; token: string }, model: Uint8Array, devices: number, dataDir: string, o: ActivationOptions = {}): Promise<number> {
  const fleet = await createSimulatedFleet({ hub: hub.http, token: hub.token, devices, rate: 0, dataDir, prefix: 'fan' });
  try {
    const validation = trainVibrationModels().v1.validation;
    /** Push `file` as `version`, roll it out to all in one wave, wait until every agent serves it: the rollout's id. */
    const wave = async (version: string, file: Uint8Array, onStart?: () => void | Promise<void>): Promise<string> => {
      await fleet.hub.pushModel({ name: 'fanout', version, file, validation });
      await onStart?.();
      const r = await fleet.hub.startRollout({ model: 'fanout', version, targets: { all: true }, waves: [100], soak: 0 });
      await fleet.waitForVersion(version, { model: 'fanout', timeoutMs: o.timeoutMs ?? 240_000 });
      return r.id;
    };
    if (o.warmup) {
      const first = await wave('0.9.0', o.warmup.model, o.warmup.onStart);
      await o.warmup.afterActivation?.();
      const deadline = Date.now() + 60_000;
      while ((await fleet.hub.rollout(first)).status !== 'completed') {
        if (Date.now() > deadline) throw new Error('the warm-up rollout did not complete within 60 s of every device serving it');
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    let t0 = 0n;
    await wave('1.0.0', model, async () => {
      await o.onStart?.();
      t0 = process.hrtime.bigint();
    });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (fleet.runtime.sessions() !== 1) throw new Error(`expected one shared session, found ${fleet.runtime.sessions()}`);
    await o.afterActivation?.(fleet);
    return seconds;
  } finally {
    await fleet.close();
  }
}

/** Seconds from POST /rollouts until `devices` simulated agents all serve the model, and the chunk frames the hub sent. */
export async function fleetActivation(model: Uint8Array, devices: number, hubOptions: { broker?: string; mosquittoPasswordFile?: string } = {}): Promise<{ seconds: number; chunks: number; multicast: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'edgefleet-bench-fanout-'));
  const hub = await startHub({ dataDir: join(dir, 'hub'), http: '127.0.0.1:0', mqtt: '127.0.0.1:0', ws: null, ...hubOptions });
  try {
    const seconds = await activateFleet({ http: hub.urls.http, token: hub.adminToken }, model, devices, join(dir, 'fleet'));
    return { seconds, chunks: hub.metrics.get('edgefleet_artifact_chunks_sent_total'), multicast: hub.metrics.get('edgefleet_artifact_multicast_frames_total') };
  } finally {
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function fanout(): Promise<BenchEntry> {
  const model = sizedClassifier(SIZE);
  const baselineBefore = await aedesFanout(model);
  const one = await fleetActivation(model, 1);
  const { seconds, chunks, multicast } = await fleetActivation(model, DEVICES);
  const baselineAfter = await aedesFanout(model);
  const baseline = (baselineBefore + baselineAfter) / 2;
  return {
    value: round(seconds, 4),
    unit: 's',
    baseline: round(baseline, 4),
    ratio: round(seconds / baseline, 3),
    note: `${DEVICES} agents (own MQTT connection, data dir, SQLite each; one process with the hub on ${cpus().length} cores) verify, download (${Math.ceil(model.length / DEFAULT_CHUNK_SIZE)} chunks of ${DEFAULT_CHUNK_SIZE / 1024} KiB each; the hub published ${chunks} frames, ${multicast} of them on the artifact's multicast topic (its carousel), the rest unicast repairs), hash, store, self-test and activate a ${model.length}-byte model; one agent alone takes ${one.seconds.toFixed(2)} s; baseline: one publisher sending each chunk once to a topic all ${DEVICES} subscribe to through a plain aedes in the same process (${baselineBefore.toFixed(2)} s before, ${baselineAfter.toFixed(2)} s after); goal ratio ≤ 1.5`,
  };
}

export const benchmarks: Record<string, Benchmark> = {
  'rollout.fanout': fanout,
};
