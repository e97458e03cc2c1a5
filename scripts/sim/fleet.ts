// The fleet simulator: N real agents in one process — each its own MQTT connection, data
// dir, SQLite state and telemetry — enrolled through the hub's HTTP API, sharing one onnxruntime session
// per model file, fed from generated vibration streams with drift, label feedback, faults and churn.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAgent, type Agent } from '@edgefleet/agent';
import type { InferenceRuntime } from '@edgefleet/agent/core';
import { generateVibrationDataset, mulberry32, type Dataset, type VibrationFeature } from '../lib/train.js';
import { createHubClient, type HubClient } from './hub-client.js';
import { createSharedRuntime, withFaults, type SharedRuntime } from './shared-runtime.js';

export type Shift = number | Partial<Record<VibrationFeature, number>>;

export interface DeviceFaults {
  /** Added to every inference of the faulty versions (a slow model). */
  slowMs?: number;
  /** Share of inferences that fail with INFERENCE_FAILED. */
  errorRate?: number;
  /** Artifacts arrive corrupted (HTTP path, one byte flipped): the agent refuses them with HASH_MISMATCH. */
  brokenDownload?: boolean;
  /** Only artifacts with these sha256 misbehave (slow/error); all when omitted. */
  onlyArtifacts?: string[];
}

export interface SimulatedDeviceSpec {
  tags?: Record<string, string>;
  /** Covariate drift of this device's input stream (in feature σ units, see VIBRATION_FEATURE_SCALE). */
  drift?: Shift;
  /** Share of this device's predictions that get a ground-truth label back. */
  labelFraction?: number;
  faults?: DeviceFaults;
  /** Local OIP API on a free port (in-process `agent.infer` otherwise). */
  api?: boolean;
}

export interface SimulatedFleetOptions {
  /** Hub HTTP base URL and an admin token (devices are enrolled with POST /api/v1/devices). */
  hub: string;
  token: string;
  devices: number;
  /** Device ids are `${prefix}-${i}` (default "sim"). */
  prefix?: string;
  /** Per-device settings; defaults below apply where it returns nothing. */
  device?: (index: number) => SimulatedDeviceSpec;
  /** Devices with drifted inputs (the first ⌈f·N⌉ after a seeded shuffle) and their shift (default 1.5σ on every feature). */
  driftFraction?: number;
  driftShift?: Shift;
  /** Share of predictions labelled on every device (default 0). */
  labelFraction?: number;
  /** Which model the streams feed (input `features`, 6 vibration features; default "vibration"). */
  model?: string;
  /** Inferences per second per device (default 1; 0: no streams). */
  rate?: number;
  /** Close telemetry windows and push them this often (the hub gates on them; default: the agent's 60 s windows). */
  flushSeconds?: number;
  churn?: { /** a device leaves every this many ms */ everyMs: number; /** and comes back after */ offlineMs: number };
  dataDir?: string;
  seed?: number;
  /** Local APIs for all devices (default false: hundreds of agents fit in one process). */
  api?: boolean;
  runtime?: SharedRuntime;
  /** Core tuning passed to every agent. */
  agent?: Parameters<typeof createAgent>[1];
  log?: (line: string) => void;
}

export interface SimulatedDevice {
  readonly id: string;
  readonly index: number;
  readonly agent: Agent;
  readonly spec: SimulatedDeviceSpec;
  online: boolean;
  drift: Shift;
  /** Share of predictions labelled back (from the spec, the fleet's option, or setLabelFraction). */
  labelFraction: number;
  stats: { inferences: number; errors: number; labels: number; notServing: number };
}

export interface SimulatedFleet {
  readonly devices: SimulatedDevice[];
  readonly hub: HubClient;
  readonly runtime: SharedRuntime;
  /** Active version of `model` per device id (null: none yet; undefined: device offline). */
  activeVersions(model?: string): Record<string, string | null>;
  /** Resolves when every chosen device (default: all) runs `version` of `model` as active. */
  waitForVersion(version: string, options?: { model?: string; ids?: string[]; timeoutMs?: number }): Promise<void>;
  setDrift(ids: string[], shift: Shift): void;
  /** From now on, this share of these devices' predictions gets its ground-truth label back. */
  setLabelFraction(ids: string[], fraction: number): void;
  /** Take one device offline now (clean stop), and bring it back. */
  stopDevice(id: string): Promise<void>;
  startDevice(id: string): Promise<void>;
  totals(): { inferences: number; errors: number; labels: number; notServing: number };
  close(): Promise<void>;
}

const ROWS_PER_STREAM = 4096;
const TICK_MS = 100;

function shuffled(n: number, seed: number): number[] {
  const rng = mulberry32(seed);
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** A fetch that flips one byte of every artifact body: a broken download path (design §3 HASH_MISMATCH). */
function corruptingFetch(): typeof fetch {
  return async (input, init) => {
    const res = await fetch(input, init);
    if (!res.ok) return res;
    const body = new Uint8Array(await res.arrayBuffer());
    if (body.length > 0) body[body.length >> 1]! ^= 0xff;
    return new Response(body, { status: res.status, headers: res.headers });
  };
}

export async function createSimulatedFleet(options: SimulatedFleetOptions): Promise<SimulatedFleet> {
  const log = options.log ?? (() => undefined);
  const prefix = options.prefix ?? 'sim';
  const model = options.model ?? 'vibration';
  const seed = options.seed ?? 1;
  const rate = options.rate ?? 1;
  const ownDir = options.dataDir === undefined;
  const root = options.dataDir ?? mkdtempSync(join(tmpdir(), 'edgefleet-sim-'));
  mkdirSync(root, { recursive: true });
  const runtime = options.runtime ?? createSharedRuntime();
  const hub = createHubClient(options.hub, options.token);
  const rng = mulberry32(seed ^ 0x5eed);

  const drifted = new Set(shuffled(options.devices, seed).slice(0, Math.ceil((options.driftFraction ?? 0) * options.devices)));
  const devices: SimulatedDevice[] = [];
  const streams = new Map<string, { data: Dataset; row: number; due: number }>();
  const streamOf = (d: SimulatedDevice) => {
    let s = streams.get(d.id);
    if (!s) {
      const data = generateVibrationDataset({ n: ROWS_PER_STREAM, seed: seed * 100_003 + d.index, ...(d.drift !== 0 ? { shift: d.drift } : {}) });
      s = { data, row: 0, due: 0 };
      streams.set(d.id, s);
    }
    return s;
  };

  try {
    // enrol: the hub hands out each device's credentials and agent config (design §2 `device add`)
    for (let i = 0; i < options.devices; i++) {
      const spec = options.device?.(i) ?? {};
      const id = `${prefix}-${i}`;
      const { agentConfig } = await hub.addDevice(id, spec.tags ?? {});
      const faults = spec.faults;
      let rt: InferenceRuntime = runtime;
      if (faults && (faults.slowMs || faults.errorRate)) {
        rt = withFaults(runtime, {
          ...(faults.slowMs ? { delayMs: faults.slowMs } : {}),
          ...(faults.errorRate ? { errorRate: faults.errorRate } : {}),
          ...(faults.onlyArtifacts ? { onlyModels: new Set(faults.onlyArtifacts) } : {}),
        });
      }
      const base = options.agent ?? {};
      const agent = createAgent(agentConfig, {
        ...base,
        dataDir: join(root, id),
        api: (spec.api ?? options.api) ? '127.0.0.1:0' : false,
        runtime: rt,
        core: {
          retry: { baseMs: 500, maxMs: 5000 },
          ...base.core,
          ...(faults?.brokenDownload ? { download: { ...base.core?.download, prefer: 'http' as const, fetch: corruptingFetch() } } : {}),
        },
        reconnect: base.reconnect ?? { initialMs: 200, maxMs: 3000 },
        ...(process.env.EDGEFLEET_SIM_LOG ? { log: (l: string) => log(`${id}: ${l}`) } : {}),
      });
      devices.push({
        id,
        index: i,
        agent,
        spec,
        online: false,
        drift: spec.drift ?? (drifted.has(i) ? (options.driftShift ?? 1.5) : 0),
        labelFraction: spec.labelFraction ?? options.labelFraction ?? 0,
        stats: { inferences: 0, errors: 0, labels: 0, notServing: 0 },
      });
    }
    // start in small groups: hundreds of simultaneous CONNECTs and SQLite opens are a thundering herd
    for (let i = 0; i < devices.length; i += 20) {
      await Promise.all(
        devices.slice(i, i + 20).map(async (d) => {
          await d.agent.start();
          d.online = true;
        }),
      );
    }
    log(`${devices.length} agents started (data in ${root})`);
  } catch (err) {
    await Promise.all(devices.map((d) => d.agent.stop().catch(() => undefined)));
    if (ownDir) rmSync(root, { recursive: true, force: true });
    throw err;
  }

  const byId = new Map(devices.map((d) => [d.id, d]));
  const inflight = new Set<Promise<void>>();
  const track = (p: Promise<void>) => {
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  };

  const inferOnce = async (d: SimulatedDevice): Promise<void> => {
    const s = streamOf(d);
    const r = s.row++ % s.data.X.rows;
    const cols = s.data.X.cols;
    const feeds = { features: { type: 'float32' as const, dims: [1, cols], data: s.data.X.data.slice(r * cols, r * cols + cols) } };
    let res;
    try {
      res = await d.agent.infer(model, feeds);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'NOT_FOUND' || code === 'UNAVAILABLE') d.stats.notServing++;
      else d.stats.errors++;
      return;
    }
    d.stats.inferences++;
    if (d.labelFraction > 0 && rng() < d.labelFraction) {
      try {
        await d.agent.feedback(model, res.id, s.data.y[r]!);
        d.stats.labels++;
      } catch {
        // the prediction may have rotated out of memory after a restart: not an error of the stream
      }
    }
  };

  // one ticker drives every stream: each device accrues `rate` requests per second
  let closed = false;
  const ticker =
    rate > 0
      ? setInterval(() => {
          for (const d of devices) {
            if (!d.online) continue;
            const s = streamOf(d);
            s.due += (rate * TICK_MS) / 1000;
            while (s.due >= 1) {
              s.due -= 1;
              track(inferOnce(d));
            }
          }
        }, TICK_MS)
      : null;

  // telemetry: close windows and push them, staggered so devices do not all publish in one instant
  const flushers: NodeJS.Timeout[] = [];
  if (options.flushSeconds) {
    const every = options.flushSeconds * 1000;
    devices.forEach((d, i) => {
      const start = setTimeout(() => {
        const t = setInterval(() => {
          if (d.online) track(d.agent.core.flushTelemetry().catch(() => undefined));
        }, every);
        flushers.push(t);
      }, Math.floor((every * i) / devices.length));
      flushers.push(start);
    });
  }

  const stopDevice = async (id: string) => {
    const d = byId.get(id);
    if (!d || !d.online) return;
    d.online = false;
    await d.agent.stop();
  };
  const startDevice = async (id: string) => {
    const d = byId.get(id);
    if (!d || d.online || closed) return;
    await d.agent.start();
    d.online = true;
  };

  // churn: a random online device leaves and returns after offlineMs (devices going offline and coming back)
  let churner: NodeJS.Timeout | null = null;
  const churnTimers = new Set<NodeJS.Timeout>();
  if (options.churn) {
    const { everyMs, offlineMs } = options.churn;
    churner = setInterval(() => {
      const online = devices.filter((d) => d.online);
      const d = online[Math.floor(rng() * online.length)];
      if (!d) return;
      log(`churn: ${d.id} goes offline for ${Math.round(offlineMs / 1000)} s`);
      track(
        stopDevice(d.id).then(() => {
          const t = setTimeout(() => {
            churnTimers.delete(t);
            log(`churn: ${d.id} is back`);
            track(startDevice(d.id).catch((err) => log(`churn: ${d.id} did not restart: ${String(err)}`)));
          }, offlineMs);
          churnTimers.add(t);
        }),
      );
    }, everyMs);
  }

  const activeVersions = (m = model): Record<string, string | null> => {
    const out: Record<string, string | null> = {};
    for (const d of devices) {
      if (!d.online) continue;
      out[d.id] = d.agent.core.slots()[m]?.active?.version ?? null;
    }
    return out;
  };

  return {
    devices,
    hub,
    runtime,
    activeVersions,
    async waitForVersion(version, opts = {}) {
      const m = opts.model ?? model;
      const ids = opts.ids ?? devices.map((d) => d.id);
      const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
      for (;;) {
        const missing = ids.filter((id) => {
          const d = byId.get(id);
          return !d?.online || d.agent.core.slots()[m]?.active?.version !== version;
        });
        if (missing.length === 0) return;
        if (Date.now() > deadline) {
          throw new Error(`${missing.length} of ${ids.length} devices do not run ${m}@${version} (e.g. ${missing.slice(0, 5).join(', ')})`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    setDrift(ids, shift) {
      for (const id of ids) {
        const d = byId.get(id);
        if (!d) continue;
        d.drift = shift;
        streams.delete(id); // regenerated with the new shift on the next request
      }
    },
    setLabelFraction(ids, fraction) {
      for (const id of ids) {
        const d = byId.get(id);
        if (d) d.labelFraction = fraction;
      }
    },
    stopDevice,
    startDevice,
    totals() {
      const t = { inferences: 0, errors: 0, labels: 0, notServing: 0 };
      for (const d of devices) for (const k of Object.keys(t) as (keyof typeof t)[]) t[k] += d.stats[k];
      return t;
    },
    async close() {
      if (closed) return;
      closed = true;
      if (ticker) clearInterval(ticker);
      if (churner) clearInterval(churner);
      for (const t of flushers) clearInterval(t);
      for (const t of churnTimers) clearTimeout(t);
      await Promise.allSettled([...inflight]);
      for (let i = 0; i < devices.length; i += 20) {
        await Promise.all(devices.slice(i, i + 20).map((d) => (d.online ? d.agent.stop().catch(() => undefined) : undefined)));
      }
      for (const d of devices) d.online = false;
      if (ownDir) rmSync(root, { recursive: true, force: true });
    },
  };
}
