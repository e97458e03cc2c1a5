// broker.compare (design §8, §11): the fan-out and ingest figures with the embedded aedes and with a
// Mosquitto the bench starts on 127.0.0.1 (the hub in `--broker` mode with the ACL of hub/mosquitto/acl).
// - fanout_s.{aedes,mosquitto}: the raw fan-out of rollout.fanout's baseline (one publisher, each 64 KiB
//   chunk of a 4 MB artifact once, 200 QoS 1 subscribers);
// - rollout_s.{aedes,mosquitto}: 50 simulated agents activate that model through the hub (one 100% wave);
// - ingest_per_s.{aedes,mosquitto}: telemetry batches/s from 100 devices (a worker thread) to committed rows.
// `ratio` is mosquitto / aedes for seconds, and mosquitto / aedes for throughput.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { DEFAULT_CHUNK_SIZE, createWindow, histogramAdd, type TelemetryBatch } from '@edgefleet/protocol';
import { startHub, type Hub } from '@edgefleet/hub';
import { rawFanout, startMosquitto, startPlainAedes, type BrokerHandle } from '../sim/broker-load.js';
import { startHubMosquitto, type MosquittoProcess } from '../sim/hub-processes.js';
import { sizedClassifier } from '../sim/models.js';
import { fleetActivation } from './rollout.js';
import { round, type BenchEntry, type Benchmark } from './harness.js';

export const HUB_PASSWORD = 'bench-hub-password-0123456789';
const SUBSCRIBERS = 200;
const ROLLOUT_DEVICES = 50;
export const CLIENTS = 100;
export const PER_CLIENT = 200;

/** A Mosquitto with the hub's ACL (a `user` block per extra hub user) and a password file the hub keeps in sync; SIGHUP reloads it. */
export async function mosquittoForHub(dir: string, hubUsers: readonly string[] = []): Promise<BrokerHandle & MosquittoProcess & { reload(): void }> {
  const m = await startHubMosquitto(dir, HUB_PASSWORD, ['max_queued_messages 100000', 'max_inflight_messages 0'], { hubUsers });
  return { ...m, url: `mqtt://127.0.0.1:${m.port}`, close: m.stop, reload: () => process.kill(m.pid, 'SIGHUP') };
}

// CommonJS worker (eval): connects every device (retrying while a reloaded password file takes effect),
// then publishes all batches as fast as QoS 1 allows.
const PUBLISHER = `
const { parentPort, workerData } = require('node:worker_threads');
const mqtt = require('mqtt');
const { url, devices, perClient, template, first, step } = workerData;
const connect = (d) => new Promise((resolve, reject) => {
  const c = mqtt.connect(url, { clientId: d.id, username: d.id, password: d.token, protocolVersion: 4, reconnectPeriod: 0 });
  c.once('connect', () => resolve(c));
  c.once('error', (e) => { c.end(true); reject(e); });
});
const retry = async (d) => { for (let i = 0; ; i++) { try { return await connect(d); } catch (e) { if (i > 50) throw e; await new Promise((r) => setTimeout(r, 100)); } } };
(async () => {
  const clients = [];
  for (let i = 0; i < devices.length; i += 25) clients.push(...await Promise.all(devices.slice(i, i + 25).map(retry)));
  parentPort.postMessage({ connected: true });
  await Promise.all(clients.map(async (c, i) => {
    const id = devices[i].id;
    const topic = 'ef/v1/devices/' + id + '/telemetry';
    const pending = [];
    for (let seq = 1; seq <= perClient; seq++) {
      const start = first + (seq - 1) * step;
      const body = template.replace('"__DEVICE__"', JSON.stringify(id)).replace('"__SEQ__"', String(seq)).replace('"__START__"', String(start)).replace('"__END__"', String(start + 60000));
      pending.push(c.publishAsync(topic, body, { qos: 1 }));
    }
    await Promise.all(pending);
  }));
  await Promise.all(clients.map((c) => c.endAsync()));
  parentPort.postMessage({ done: true });
})().catch((err) => parentPort.postMessage({ error: String(err && err.stack || err) }));
`;

/** `confirm`: what an agent sets when the hub's desired state asks for it (a `--broker` hub does, design §4). */
function template(confirm: boolean): string {
  const w = createWindow('bench', '1.0.0', 'active', 0, 0);
  for (let i = 0; i < 50; i++) histogramAdd(w.latencyMs, 2 + (i % 17) * 0.7);
  w.inferences = 50;
  const batch: TelemetryBatch = { deviceId: 'x', seq: 0, windows: [w], dropped: 0, ...(confirm ? { confirm: true } : {}) };
  return JSON.stringify({ ...batch, deviceId: '__DEVICE__', seq: '__SEQ__', windows: [{ ...w, start: '__START__', end: '__END__' }] });
}

/** The first window's start: this minute, or with `spread` PER_CLIENT minutes earlier (batch k in minute k). */
function firstMinute(spread: boolean): number {
  return Math.floor(Date.now() / 60_000) * 60_000 - (spread ? PER_CLIENT * 60_000 : 0);
}

/** Bytes of one batch as the ingest devices send it (one 60 s window of 50 inferences). */
export function batchBytes(confirm: boolean, id = 'ingest-0'): number {
  const t = String(firstMinute(false));
  return Buffer.byteLength(template(confirm).replace('"__DEVICE__"', JSON.stringify(id)).replace('"__SEQ__"', String(PER_CLIENT)).replace('"__START__"', t).replace('"__END__"', t));
}

/** Where the ingest devices send: a hub in this process or replicas in others. */
export interface IngestTarget {
  /** Registers a device; resolves to its MQTT password. */
  addDevice(id: string): Promise<string>;
  /** The broker URL devices connect to. */
  url: string;
  /** Called once every device was added (e.g. reload Mosquitto's password file). */
  afterAdd?(): void;
  /** Batches committed so far (over every replica). */
  committed(): number | Promise<number>;
  /** Batches ask for the hub's confirmation, as agents do behind a `--broker` hub. */
  confirm?: boolean;
  /** `committed` costs the hub something (an HTTP scrape): ask it rarely, and more often as the end nears. */
  scrape?: boolean;
  /** Called when every device is connected and publishing starts (the clock starts). */
  onStart?(): void;
  /**
   * Each batch of a device in a minute of its own, as devices reporting once a minute for PER_CLIENT minutes
   * (rows per device-minute as a fleet writes them); by default all in this minute.
   */
  spreadMinutes?: boolean;
  /** Device ids are `${prefix}-${i}` (default "ingest"). */
  prefix?: string;
  /** Stops waiting (with its reason) when aborted. */
  signal?: AbortSignal;
}

/** Batches/s from CLIENTS devices to committed rows through the target's broker; checks nothing is lost. */
export async function ingest(t: IngestTarget): Promise<number> {
  const ids = Array.from({ length: CLIENTS }, (_, i) => `${t.prefix ?? 'ingest'}-${i}`);
  const devices: Array<{ id: string; token: string }> = [];
  for (let i = 0; i < ids.length; i += 10) devices.push(...(await Promise.all(ids.slice(i, i + 10).map(async (id) => ({ id, token: await t.addDevice(id) })))));
  t.afterAdd?.();
  const total = CLIENTS * PER_CLIENT;
  const worker = new Worker(PUBLISHER, { eval: true, workerData: { url: t.url, devices, perClient: PER_CLIENT, template: template(t.confirm ?? false), first: firstMinute(t.spreadMinutes ?? false), step: t.spreadMinutes ? 60_000 : 0 } });
  try {
    let t0 = 0n;
    let failure: string | null = null;
    let done = false;
    worker.on('message', (m: { connected?: boolean; done?: boolean; error?: string }) => {
      if (m.connected) {
        t0 = process.hrtime.bigint();
        t.onStart?.();
      }
      if (m.error) failure = m.error;
      if (m.done) done = true;
    });
    worker.on('error', (e) => (failure = String(e)));
    const deadline = Date.now() + 180_000;
    const check = (what: string) => {
      t.signal?.throwIfAborted();
      if (failure) throw new Error(failure);
      if (Date.now() > deadline) throw new Error(`ingest: ${what} after 180 s`);
    };
    let seen = 0;
    while ((seen = await t.committed()) < total) {
      check(`only ${seen} of ${total} batches committed`);
      // a scrape waits half the time the rate so far predicts is left (20–500 ms)
      const elapsed = t0 ? Number(process.hrtime.bigint() - t0) / 1e6 : 0;
      const left = seen > 0 ? ((total - seen) * elapsed) / seen : Infinity;
      await new Promise((r) => setTimeout(r, t.scrape ? Math.max(20, Math.min(500, left / 2)) : 5));
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    // the publishers' acknowledgements and disconnects (they are not timed)
    while (!done && !failure) {
      check('the publishers did not finish');
      await new Promise((r) => setTimeout(r, 20));
    }
    return total / seconds;
  } finally {
    await worker.terminate();
  }
}

/** An in-process hub as an ingest target. */
function inProcess(hub: Hub, url: string, more: Partial<IngestTarget> = {}): IngestTarget {
  return {
    url,
    addDevice: async (id) => (await hub.services.devices.add(id, {}, 'bench')).token,
    committed: () => hub.metrics.get('edgefleet_telemetry_batches_total'),
    ...more,
  };
}

async function withAedesHub<T>(f: (hub: Hub, url: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'edgefleet-bench-broker-'));
  const hub = await startHub({ dataDir: join(dir, 'hub'), http: '127.0.0.1:0', mqtt: '127.0.0.1:0', ws: null });
  try {
    return await f(hub, hub.urls.mqtt!);
  } finally {
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function withMosquittoHub<T>(f: (hub: Hub, url: string, reload: () => void) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'edgefleet-bench-broker-'));
  const m = await mosquittoForHub(dir);
  try {
    const hub = await startHub({ dataDir: join(dir, 'hub'), http: '127.0.0.1:0', broker: `mqtt://edgefleet_hub:${HUB_PASSWORD}@127.0.0.1:${m.port}`, mosquittoPasswordFile: m.passwd });
    try {
      return await f(hub, m.url, m.reload);
    } finally {
      await hub.close();
    }
  } finally {
    await m.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function compare(): Promise<Record<string, BenchEntry>> {
  const model = sizedClassifier(4 * 1024 * 1024);
  const dir = mkdtempSync(join(tmpdir(), 'edgefleet-bench-broker-'));
  let fanA: number;
  let fanM: number;
  try {
    const a = await startPlainAedes();
    try {
      fanA = await rawFanout(a.url, SUBSCRIBERS, model, DEFAULT_CHUNK_SIZE);
    } finally {
      await a.close();
    }
    const m = await startMosquitto({ dir });
    try {
      fanM = await rawFanout(m.url, SUBSCRIBERS, model, DEFAULT_CHUNK_SIZE);
    } finally {
      await m.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const rollA = (await fleetActivation(model, ROLLOUT_DEVICES)).seconds;
  const rollM = await (async () => {
    const d = mkdtempSync(join(tmpdir(), 'edgefleet-bench-broker-'));
    const m = await mosquittoForHub(d);
    try {
      // agents connect as soon as they are enrolled: reload mosquitto's password file while they retry
      const reloader = setInterval(() => m.reload(), 500);
      try {
        return (await fleetActivation(model, ROLLOUT_DEVICES, { broker: `mqtt://edgefleet_hub:${HUB_PASSWORD}@127.0.0.1:${m.port}`, mosquittoPasswordFile: m.passwd })).seconds;
      } finally {
        clearInterval(reloader);
      }
    } finally {
      await m.close();
      rmSync(d, { recursive: true, force: true });
    }
  })();
  const ingA = await withAedesHub((hub, url) => ingest(inProcess(hub, url)));
  const ingM = await withMosquittoHub((hub, url, reload) => ingest(inProcess(hub, url, { afterAdd: reload, confirm: true })));
  const s = (x: number) => round(x, 4);
  return {
    'fanout_s.aedes': { value: s(fanA), unit: 's', note: `one publisher, ${Math.ceil(model.length / DEFAULT_CHUNK_SIZE)} chunks of 64 KiB once each, ${SUBSCRIBERS} QoS 1 subscribers (mqtt.js, this process); aedes in this process` },
    'fanout_s.mosquitto': { value: s(fanM), unit: 's', baseline: s(fanA), ratio: round(fanM / fanA, 3), note: 'the same through Mosquitto (its own process); baseline: aedes' },
    'rollout_s.aedes': { value: s(rollA), unit: 's', note: `${ROLLOUT_DEVICES} simulated agents activate the ${model.length}-byte model (one 100% wave, no soak) through the hub's embedded aedes` },
    'rollout_s.mosquitto': { value: s(rollM), unit: 's', baseline: s(rollA), ratio: round(rollM / rollA, 3), note: 'the same with the hub in --broker mode against Mosquitto (ACL of hub/mosquitto/acl, password file reloaded with SIGHUP); baseline: embedded aedes' },
    'ingest_per_s.aedes': { value: s(ingA), unit: 'messages/s', note: `${CLIENTS} devices × ${PER_CLIENT} QoS 1 telemetry batches (worker thread) → hub ingest → committed rows, embedded aedes` },
    'ingest_per_s.mosquitto': { value: s(ingM), unit: 'messages/s', baseline: s(ingA), ratio: round(ingM / ingA, 3), note: 'the same with the hub in --broker mode against Mosquitto, batches asking for the hub\'s confirmation as agents do behind a --broker hub; baseline: embedded aedes' },
  };
}

export const benchmarks: Record<string, Benchmark> = {
  'broker.compare': compare,
};
