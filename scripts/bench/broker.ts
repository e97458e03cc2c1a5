// broker.compare (design §8, §11): the fan-out and ingest figures with the embedded aedes and with a
// Mosquitto the bench starts on 127.0.0.1 (the hub in `--broker` mode with the ACL of hub/mosquitto/acl).
// - fanout_s.{aedes,mosquitto}: the raw fan-out of rollout.fanout's baseline (one publisher, each 64 KiB
//   chunk of a 4 MB artifact once, 200 QoS 1 subscribers);
// - rollout_s.{aedes,mosquitto}: 50 simulated agents activate that model through the hub (one 100% wave);
// - ingest_per_s.{aedes,mosquitto}: telemetry batches/s from 100 devices (a worker thread) to committed rows.
// `ratio` is mosquitto / aedes for seconds, and mosquitto / aedes for throughput.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { DEFAULT_CHUNK_SIZE, createWindow, histogramAdd, type TelemetryBatch } from '@edgefleet/protocol';
import { mosquittoPasswordHash, startHub, type Hub } from '@edgefleet/hub';
import { rawFanout, startMosquitto, startPlainAedes, type BrokerHandle } from '../sim/broker-load.js';
import { sizedClassifier } from '../sim/models.js';
import { fleetActivation } from './rollout.js';
import { round, type BenchEntry, type Benchmark } from './harness.js';

const ACL = fileURLToPath(new URL('../../hub/mosquitto/acl', import.meta.url));
export const HUB_PASSWORD = 'bench-hub-password-0123456789';
const SUBSCRIBERS = 200;
const ROLLOUT_DEVICES = 50;
export const CLIENTS = 100;
export const PER_CLIENT = 200;

/** A Mosquitto with the hub's ACL and a password file the hub keeps in sync; SIGHUP reloads it. */
export async function mosquittoForHub(dir: string, hubUsers: readonly string[] = ['edgefleet_hub']): Promise<BrokerHandle & { port: number; passwd: string; reload(): void }> {
  const passwd = join(dir, 'mosquitto.passwd');
  writeFileSync(passwd, hubUsers.map((u) => `${u}:${mosquittoPasswordHash(HUB_PASSWORD)}\n`).join(''), { mode: 0o600 });
  const m = await startMosquitto({
    dir,
    lines: ['allow_anonymous false', `password_file ${passwd}`, `acl_file ${ACL}`, 'use_username_as_clientid true', 'max_packet_size 3145728'],
  });
  return { ...m, passwd, reload: () => m.process.kill('SIGHUP') };
}

// CommonJS worker (eval): connects every device (retrying while a reloaded password file takes effect),
// then publishes all batches as fast as QoS 1 allows.
const PUBLISHER = `
const { parentPort, workerData } = require('node:worker_threads');
const mqtt = require('mqtt');
const { url, devices, perClient, template } = workerData;
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
      pending.push(c.publishAsync(topic, template.replace('"__DEVICE__"', JSON.stringify(id)).replace('"__SEQ__"', String(seq)), { qos: 1 }));
    }
    await Promise.all(pending);
  }));
  await Promise.all(clients.map((c) => c.endAsync()));
  parentPort.postMessage({ done: true });
})().catch((err) => parentPort.postMessage({ error: String(err && err.stack || err) }));
`;

/** `confirm`: what an agent sets when the hub's desired state asks for it (a `--broker` hub does, design §4). */
function template(confirm: boolean): string {
  const start = Math.floor(Date.now() / 60_000) * 60_000;
  const w = createWindow('bench', '1.0.0', 'active', start, start + 60_000);
  for (let i = 0; i < 50; i++) histogramAdd(w.latencyMs, 2 + (i % 17) * 0.7);
  w.inferences = 50;
  const batch: TelemetryBatch = { deviceId: 'x', seq: 0, windows: [w], dropped: 0, ...(confirm ? { confirm: true } : {}) };
  return JSON.stringify({ ...batch, deviceId: '__DEVICE__', seq: '__SEQ__' });
}

/** Batches/s from CLIENTS devices to committed rows through `hub`'s broker (`url`); checks nothing is lost. */
export async function ingest(hub: Hub, url: string, afterAdd: () => void, confirm = false, committed: () => number = () => hub.metrics.get('edgefleet_telemetry_batches_total')): Promise<number> {
  const devices: Array<{ id: string; token: string }> = [];
  for (let i = 0; i < CLIENTS; i++) {
    const id = `ingest-${i}`;
    devices.push({ id, token: (await hub.services.devices.add(id, {}, 'bench')).token });
  }
  afterAdd();
  const total = CLIENTS * PER_CLIENT;
  const worker = new Worker(PUBLISHER, { eval: true, workerData: { url, devices, perClient: PER_CLIENT, template: template(confirm) } });
  try {
    let t0 = 0n;
    let failure: string | null = null;
    let done = false;
    worker.on('message', (m: { connected?: boolean; done?: boolean; error?: string }) => {
      if (m.connected) t0 = process.hrtime.bigint();
      if (m.error) failure = m.error;
      if (m.done) done = true;
    });
    worker.on('error', (e) => (failure = String(e)));
    const deadline = Date.now() + 180_000;
    while (committed() < total) {
      if (failure) throw new Error(failure);
      if (Date.now() > deadline) throw new Error(`only ${committed()} of ${total} batches committed in 180 s`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    while (!done && !failure) await new Promise((r) => setTimeout(r, 20));
    return total / seconds;
  } finally {
    await worker.terminate();
  }
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
  const ingA = await withAedesHub((hub, url) => ingest(hub, url, () => undefined));
  const ingM = await withMosquittoHub((hub, url, reload) => ingest(hub, url, reload, true));
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
