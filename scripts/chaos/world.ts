// A world a fault is injected into: one `edgefleet hub start` child (embedded aedes, or `--broker` against a
// Mosquitto child), agents as `edgefleet-agent` children, model versions pushed through the hub's HTTP API
// with the answer bare onnxruntime-node gives for each, and the checks every fault ends with: does the hub
// come back by itself, and does each device serve a whole model (the old or the new one, never a partial one).

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { createHubClient, type HubClient } from '../sim/hub-client.js';
import { sizedClassifier } from '../sim/models.js';
import type { ChaosContext, FaultKind } from './campaign.js';
import { createAgentProcess, createHubProcess, excerpt, freePort, mqttAccepts, waitFor, type AgentProcess, type HubProcess, type HubProcessOptions } from './procs.js';
import type { PublisherDevice } from './telemetry.js';

export const MODEL = 'chaos';
const FEATURES = 6;
/** The one input every check sends: fixed, so each version has one expected answer. */
const PROBE_INPUT = Float32Array.from({ length: FEATURES }, (_, i) => Math.sin(i + 1) * 0.8);

export interface ModelVersion {
  name: string;
  version: string;
  /** `probabilities` from bare onnxruntime-node on PROBE_INPUT. */
  expected: number[];
}

export type Serving = { verdict: 'ok'; version: string } | { verdict: 'corrupt'; version: string; detail: string } | { verdict: 'not-serving'; detail: string };

export interface World {
  readonly hub: HubProcess;
  readonly api: HubClient;
  readonly agents: AgentProcess[];
  /** A registered device the checks connect as (never used for anything else). */
  readonly probe: PublisherDevice;
  versions(name: string): ModelVersion[];
  /** Pushes the next version of `name` (a fresh untrained classifier of `bytes`). */
  pushVersion(name: string, bytes: number): Promise<ModelVersion>;
  /** Rolls `name@version` out to the devices tagged `pool=<pool>`; returns the rollout id. */
  rollout(name: string, version: string, pool: string, waves?: number[]): Promise<string>;
  addDevice(id: string): Promise<PublisherDevice>;
  addAgent(id: string, pool: string, dataDir?: string): Promise<AgentProcess>;
  /** Infers on the agent's local OIP API and compares with bare onnxruntime for the version it names. */
  check(agent: AgentProcess, name: string): Promise<Serving>;
  /** Agents not running `name@version` within `timeoutMs` (polled on their local API). */
  waitVersion(agents: AgentProcess[], name: string, version: string, timeoutMs: number): Promise<AgentProcess[]>;
  /**
   * After a kill: starts the hub on the same data dir and ports and checks it serves (HTTP and MQTT).
   * Each start that does not come back serving counts in `hubRestartsNeeded`; gives up after `attempts` (3).
   */
  restartHub(kind: FaultKind, why: string, attempts?: number): Promise<boolean>;
  close(): Promise<void>;
}

function close(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => Math.abs(x - b[i]!) <= 1e-5 + 1e-4 * Math.abs(b[i]!));
}

async function bareAnswer(bytes: Uint8Array): Promise<number[]> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  try {
    const out = await session.run({ features: new ort.Tensor('float32', PROBE_INPUT, [1, FEATURES]) });
    return Array.from(out.probabilities!.data as Float32Array);
  } finally {
    await session.release();
  }
}

export async function createWorld(
  ctx: ChaosContext,
  name: string,
  options: { broker?: HubProcessOptions['broker'] } = {},
): Promise<World> {
  const dir = join(ctx.root, name);
  mkdirSync(dir, { recursive: true });
  const hub = createHubProcess({
    dataDir: join(dir, 'hub'),
    httpPort: await freePort(),
    ...(options.broker ? { broker: options.broker } : { mqttPort: await freePort() }),
    heapMb: ctx.plan.hubHeapMb,
  });
  if (!(await hub.start()) || !(await hub.serving())) throw new Error(`${name}: the hub did not start:\n${hub.output()}`);
  const api = createHubClient(hub.http, hub.token());
  const versions = new Map<string, ModelVersion[]>();
  const agents: AgentProcess[] = [];
  const counter = new Map<string, number>();

  const addDevice = async (id: string, tags: Record<string, string> = {}): Promise<PublisherDevice & { config: unknown }> => {
    const { token, agentConfig } = await api.addDevice(id, tags);
    return { id, token, config: agentConfig };
  };
  const probe = await addDevice(`${name}-probe`);

  const world: World = {
    hub,
    api,
    agents,
    probe,
    versions: (n) => versions.get(n) ?? [],
    async pushVersion(n, bytes) {
      const i = (counter.get(n) ?? 0) + 1;
      counter.set(n, i);
      const file = sizedClassifier(bytes, i * 7919 + n.length);
      const version = `1.0.${i}`;
      await api.pushModel({ name: n, version, file });
      const v: ModelVersion = { name: n, version, expected: await bareAnswer(file) };
      versions.set(n, [...(versions.get(n) ?? []), v]);
      return v;
    },
    async rollout(n, version, pool, waves = [100]) {
      const r = await api.startRollout({
        model: n,
        version,
        targets: { tags: [{ pool }] },
        waves,
        soak: waves.length > 1 ? '1s' : 0,
        // the devices run no inference traffic and the kills are ours: gates that need samples or count
        // killed devices as failures would only pause the rollouts this campaign wants to finish
        gates: { minReportingDevices: 0, maxDeviceFailureRate: 1, minSamples: 1_000_000 },
        // …and without samples no gate ever has evidence: pass at the soak's end instead of pausing
        maxSoak: waves.length > 1 ? '1s' : 0,
        onNoEvidence: 'pass',
      });
      return r.id;
    },
    addDevice: (id) => addDevice(id),
    async addAgent(id, pool, dataDir = join(dir, 'agents', id)) {
      const d = await addDevice(id, { pool });
      mkdirSync(join(dir, 'agents'), { recursive: true });
      const cfg = join(dir, 'agents', `${id}.json`);
      writeFileSync(cfg, JSON.stringify(d.config), { mode: 0o600 });
      const a = createAgentProcess(id, cfg, dataDir, await freePort());
      agents.push(a);
      if (!(await a.start())) throw new Error(`agent ${id} did not start:\n${a.output()}`);
      return a;
    },
    async check(agent, n) {
      if (!agent.alive() || !agent.api) return { verdict: 'not-serving', detail: 'process not running' };
      // offline first (design §5): a whole model answers as soon as the API is up; allow a moment only
      // for the socket
      let last = '';
      const answer = await waitFor(async () => {
        const res = await fetch(`${agent.api}/v2/models/${n}/infer`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ inputs: [{ name: 'features', shape: [1, FEATURES], datatype: 'FP32', data: Array.from(PROBE_INPUT) }] }),
          signal: AbortSignal.timeout(5000),
        });
        const text = await res.text();
        if (res.status !== 200) {
          last = `HTTP ${res.status} ${text.slice(0, 160)}`;
          return null;
        }
        return JSON.parse(text) as { model_version: string; outputs: Array<{ name: string; data: number[] }> };
      }, 3000, 200);
      if (!answer) return { verdict: 'not-serving', detail: last || 'no answer' };
      const got = answer.outputs.find((o) => o.name === 'probabilities')?.data ?? [];
      const known = versions.get(n) ?? [];
      const named = known.find((v) => v.version === answer.model_version);
      if (named && close(got, named.expected)) return { verdict: 'ok', version: named.version };
      const other = known.find((v) => close(got, v.expected));
      return {
        verdict: 'corrupt',
        version: answer.model_version,
        detail: other ? `answers as ${other.version} but says ${answer.model_version}` : `output ${JSON.stringify(got)} matches no version of ${n}`,
      };
    },
    async waitVersion(list, n, version, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      const missing = new Set(list);
      while (missing.size > 0 && Date.now() < deadline) {
        for (const a of [...missing]) {
          const s = await world.check(a, n).catch(() => null);
          if (s?.verdict === 'ok' && s.version === version) missing.delete(a);
        }
        if (missing.size > 0) await new Promise((r) => setTimeout(r, 250));
      }
      return [...missing];
    },
    async restartHub(kind, why, attempts = 3) {
      const row = ctx.row(kind);
      for (let attempt = 1; attempt <= attempts; attempt++) {
        const started = await hub.start();
        const ok = started && (await hub.serving()) && (await mqttAccepts(hub.mqtt, probe.id, probe.token));
        if (ok) return true;
        row.hubRestartsNeeded++;
        ctx.note(kind, `hub did not come back serving after ${why} (attempt ${attempt}): ${excerpt(hub.output())}`);
        await hub.kill9();
      }
      return false;
    },
    async close() {
      await Promise.all(agents.map((a) => a.stop()));
      await hub.stop();
    },
  };
  return world;
}
