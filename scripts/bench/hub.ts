// Benchmarks of @edgefleet/hub (design §11):
// - hub.telemetry.ingest_per_s: telemetry batches/s from many MQTT clients (in a worker thread, so they
//   do not share the hub's core) to committed rows, nothing lost; baseline: bare batched SQLite inserts
//   of the same rows into the same tables; a second baseline, hub.telemetry.raw_aedes_per_s: the same
//   publishers against a bare aedes (no hub: it PUBACKs and drops), interleaved in the same run.
// - hub.rss_per_device_kb: hub RSS growth per connected idle device (subscribed like an agent) at 1k, 5k
//   and 10k devices (issue 15 §4: goal ≤ 20 KB at 10k), the hub in its own process.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import mqttPacket from 'mqtt-packet';
import { createWindow, histogramAdd, topics, type TelemetryBatch } from '@edgefleet/protocol';
import { startHub } from '@edgefleet/hub';
import { startPlainAedes } from '../sim/broker-load.js';
import { median, round, type BenchEntry, type Benchmark } from './harness.js';

const CLIENTS = 100;
const PER_CLIENT = 200;
const ROUNDS = 3;

function sampleBatch(deviceId: string, seq: number): TelemetryBatch {
  const start = Math.floor(Date.now() / 60_000) * 60_000;
  const w = createWindow('bench', '1.0.0', 'active', start, start + 60_000);
  for (let i = 0; i < 50; i++) histogramAdd(w.latencyMs, 2 + (i % 17) * 0.7);
  w.inferences = 50;
  return { deviceId, seq, windows: [w], dropped: 0 };
}

// CommonJS worker (eval): connects every device, then publishes all batches as fast as QoS 1 allows.
const PUBLISHER = `
const { parentPort, workerData } = require('node:worker_threads');
const mqtt = require('mqtt');
const { url, devices, perClient, template, seqStart } = workerData;
(async () => {
  const clients = await Promise.all(devices.map((d) => new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { clientId: d.id, username: d.id, password: d.token, protocolVersion: 4, reconnectPeriod: 0 });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  })));
  parentPort.postMessage({ connected: true });
  await Promise.all(clients.map(async (c, i) => {
    const id = devices[i].id;
    const topic = 'ef/v1/devices/' + id + '/telemetry';
    const pending = [];
    for (let seq = seqStart; seq < seqStart + perClient; seq++) {
      const body = template.replace('"__DEVICE__"', JSON.stringify(id)).replace('"__SEQ__"', String(seq));
      pending.push(c.publishAsync(topic, body, { qos: 1 }));
    }
    await Promise.all(pending);
  }));
  parentPort.postMessage({ published: true });
  await Promise.all(clients.map((c) => c.endAsync()));
  parentPort.postMessage({ done: true });
})().catch((err) => parentPort.postMessage({ error: String(err && err.stack || err) }));
`;

function bareSqlite(rows: Array<{ deviceId: string; seq: number; body: string; batch: TelemetryBatch }>): number {
  const dir = mkdtempSync(join(tmpdir(), 'edgefleet-bench-sqlite-'));
  try {
    const db = new Database(join(dir, 'bare.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(`CREATE TABLE telemetry_batches (device_id TEXT NOT NULL, seq INTEGER NOT NULL, received_at INTEGER NOT NULL, windows INTEGER NOT NULL, dropped INTEGER NOT NULL, PRIMARY KEY (device_id, seq)) WITHOUT ROWID;
      CREATE TABLE telemetry_windows (id INTEGER PRIMARY KEY, device_id TEXT NOT NULL, model TEXT NOT NULL, version TEXT NOT NULL, role TEXT NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL, inferences INTEGER NOT NULL, body TEXT NOT NULL, received_at INTEGER NOT NULL);
      CREATE INDEX telemetry_windows_mv ON telemetry_windows (model, version, start);`);
    const b = db.prepare('INSERT OR IGNORE INTO telemetry_batches VALUES (?, ?, ?, ?, ?)');
    const w = db.prepare('INSERT INTO telemetry_windows (device_id, model, version, role, start, end, inferences, body, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    const insert = db.transaction((chunk: typeof rows) => {
      const now = Date.now();
      for (const r of chunk) {
        b.run(r.deviceId, r.seq, now, 1, 0);
        const win = r.batch.windows[0]!;
        w.run(r.deviceId, win.model, win.version, win.role, win.start, win.end, win.inferences, JSON.stringify(win), now);
      }
    });
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < rows.length; i += 2000) insert(rows.slice(i, i + 2000));
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    db.close();
    return rows.length / s;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One publisher worker's run against `url`: resolves with the seconds from its first publish to its last PUBACK. */
function publishRound(url: string, devices: Array<{ id: string; token: string }>, template: string, seqStart: number, until?: () => boolean): Promise<number> {
  const worker = new Worker(PUBLISHER, { eval: true, workerData: { url, devices, perClient: PER_CLIENT, template, seqStart } });
  let t0 = 0n;
  let acked = 0;
  const finished = new Promise<void>((resolve, reject) => {
    worker.on('message', (m: { connected?: boolean; published?: boolean; done?: boolean; error?: string }) => {
      if (m.connected) t0 = process.hrtime.bigint();
      if (m.published) acked = Number(process.hrtime.bigint() - t0) / 1e9;
      if (m.error) reject(new Error(m.error));
      if (m.done) resolve();
    });
    worker.on('error', reject);
  });
  return (async () => {
    // the hub's round ends at its last commit (which it acknowledges after); a bare broker's at its last PUBACK
    let seconds = 0;
    if (until) {
      while (!until()) await new Promise((res) => setTimeout(res, 5));
      seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    }
    await finished;
    await worker.terminate();
    return until ? seconds : acked;
  })();
}

/** The raw aedes rate of the last ingest run (hub.telemetry.raw_aedes_per_s reports it). */
let rawAedes: BenchEntry | null = null;

function templateText(): string {
  return JSON.stringify({ ...sampleBatch('x', 0), deviceId: '__DEVICE__', seq: '__SEQ__' });
}

/** The second baseline: a bare aedes (no auth, no subscriber), QoS 1 PUBACKs only. */
async function rawAedesRound(devices: Array<{ id: string; token: string }>): Promise<number> {
  const broker = await startPlainAedes();
  try {
    return (CLIENTS * PER_CLIENT) / (await publishRound(broker.url, devices, templateText(), 1));
  } finally {
    await broker.close();
  }
}

async function rawAedesPerSecond(): Promise<BenchEntry> {
  if (rawAedes) return rawAedes;
  const devices = Array.from({ length: CLIENTS }, (_, i) => ({ id: `bench-${i}`, token: 'x' }));
  const rates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) rates.push(await rawAedesRound(devices));
  return rawEntry(rates);
}

function rawEntry(rates: number[]): BenchEntry {
  return {
    value: round(median(rates), 4),
    unit: 'messages/s',
    note: `median of ${ROUNDS} rounds: the ingest bench's ${CLIENTS} clients × ${PER_CLIENT} QoS 1 batches against a bare aedes (no auth, no hub: PUBACK and drop), first publish to last PUBACK (rounds: ${rates.map((x) => Math.round(x)).join(', ')}/s); the ceiling of hub.telemetry.ingest_per_s`,
  };
}

async function ingestPerSecond(): Promise<BenchEntry> {
  const dir = mkdtempSync(join(tmpdir(), 'edgefleet-bench-ingest-'));
  const hub = await startHub({ dataDir: dir, http: '127.0.0.1:0', mqtt: '127.0.0.1:0', ws: null });
  try {
    const devices: Array<{ id: string; token: string }> = [];
    for (let i = 0; i < CLIENTS; i++) {
      const id = `bench-${i}`;
      devices.push({ id, token: (await hub.services.devices.add(id, {}, 'bench')).token });
    }
    const template = templateText();
    const total = CLIENTS * PER_CLIENT;
    const rows = devices.flatMap((d) =>
      Array.from({ length: PER_CLIENT }, (_, s) => {
        const batch = sampleBatch(d.id, s + 1);
        return { deviceId: d.id, seq: s + 1, body: JSON.stringify(batch), batch };
      }),
    );
    const committed = () => hub.metrics.get('edgefleet_telemetry_batches_total');
    // one round: the clients connect, then publish every batch; timed from the first publish to the last commit
    const round1 = async (r: number): Promise<number> => {
      const before = committed();
      return total / (await publishRound(hub.urls.mqtt!, devices, template, 1 + r * PER_CLIENT, () => committed() >= before + total));
    };
    // interleave hub rounds with baseline rounds: the machine's load hits both alike (design §11)
    const hubRates: number[] = [];
    const bareRates: number[] = [];
    const rawRates: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      hubRates.push(await round1(r));
      bareRates.push(bareSqlite(rows));
      rawRates.push(await rawAedesRound(devices));
    }
    rawAedes = rawEntry(rawRates);
    await hub.flush();
    // counted through a connection of its own: what the hub committed
    const db = new Database(join(dir, 'hub.db'), { readonly: true });
    const rowsB = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM telemetry_batches').get()!.n;
    const rowsW = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM telemetry_windows').get()!.n;
    db.close();
    const rejected = hub.metrics.render().match(/edgefleet_rejected_messages_total\{[^}]*\} (\d+)/g) ?? [];
    if (rowsB !== total * ROUNDS || rowsW !== total * ROUNDS) throw new Error(`lost telemetry: ${rowsB} batches and ${rowsW} windows of ${total * ROUNDS}`);
    const value = median(hubRates);
    const baseline = median(bareRates);
    return {
      value: round(value, 4),
      unit: 'messages/s',
      baseline: round(baseline, 4),
      ratio: round(value / baseline, 3),
      note: `median of ${ROUNDS} rounds of ${CLIENTS} clients × ${PER_CLIENT} QoS 1 batches (1 window each) through embedded aedes → parse, dedupe, rollup → committed (rounds: ${hubRates.map((x) => Math.round(x)).join(', ')}/s); all ${total * ROUNDS} rows present${rejected.length ? `; ${rejected.join(', ')}` : ''}; baseline: the same rows as bare batched inserts, interleaved; bare aedes (PUBACK and drop) ${Math.round(median(rawRates))}/s, ratio ${round(value / median(rawRates), 3)} (hub.telemetry.raw_aedes_per_s)`,
    };
  } finally {
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A minimal idle device: raw CONNECT and SUBSCRIBE (the agent's four topics), keepalive off. */
function idleDevice(port: number, id: string, token: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    sock.on('error', reject);
    sock.on('connect', () => {
      sock.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: id, username: id, password: Buffer.from(token), clean: true, keepalive: 0 }));
      sock.write(
        mqttPacket.generate({
          cmd: 'subscribe',
          messageId: 1,
          subscriptions: [topics.keyring(), topics.desired(id), topics.command(id), topics.artifactData(id)].map((topic) => ({ topic, qos: 1 })),
        }),
      );
    });
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      // CONNACK then SUBACK (0x90): subscribed
      if (buf.includes(0x90)) {
        sock.removeAllListeners('data');
        sock.on('data', () => undefined); // retained keyring etc.
        resolve(sock);
      }
    });
  });
}

async function rssPerDevice(): Promise<Record<string, BenchEntry>> {
  const N = 10_000;
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(new URL('./_hub-child.ts', import.meta.url)), String(N)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const queue: string[] = [];
  let wake: (() => void) | null = null;
  lines.on('line', (l) => {
    queue.push(l);
    wake?.();
  });
  const next = async (): Promise<any> => {
    while (queue.length === 0) await new Promise<void>((r) => (wake = r));
    return JSON.parse(queue.shift()!);
  };
  const rss = async (): Promise<number> => {
    child.stdin!.write('rss\n');
    return ((await next()) as { rss: number }).rss;
  };
  const sockets: net.Socket[] = [];
  try {
    const info = (await next()) as { mqtt: string; devices: Array<{ id: string; token: string }> };
    const port = Number(new URL(info.mqtt).port);
    const connect = async (from: number, to: number) => {
      for (let i = from; i < to; i += 100) {
        sockets.push(...(await Promise.all(info.devices.slice(i, Math.min(to, i + 100)).map((d) => idleDevice(port, d.id, d.token)))));
      }
    };
    await new Promise((r) => setTimeout(r, 500));
    const r0 = await rss();
    await connect(0, 1000);
    await new Promise((r) => setTimeout(r, 500));
    const r1 = await rss();
    await connect(1000, 5000);
    await new Promise((r) => setTimeout(r, 500));
    const r5 = await rss();
    await connect(5000, N);
    await new Promise((r) => setTimeout(r, 500));
    const r10 = await rss();
    const kb = (bytes: number, n: number) => round(bytes / n / 1024, 3);
    return {
      '1k': { value: kb(r1 - r0, 1000), unit: 'KB/device', note: `hub RSS ${Math.round(r0 / 1048576)} → ${Math.round(r1 / 1048576)} MiB with 1,000 idle devices (each subscribed to its 4 topics)` },
      '5k': { value: kb(r5 - r0, 5000), unit: 'KB/device', note: `hub RSS ${Math.round(r0 / 1048576)} → ${Math.round(r5 / 1048576)} MiB with 5,000 idle devices` },
      '10k': { value: kb(r10 - r0, N), unit: 'KB/device', note: `hub RSS ${Math.round(r0 / 1048576)} → ${Math.round(r10 / 1048576)} MiB with 10,000 idle devices; goal ≤ 20 KB/device` },
    };
  } finally {
    for (const s of sockets) s.destroy();
    child.stdin!.write('exit\n');
    await new Promise((r) => child.once('exit', r));
  }
}

export const benchmarks: Record<string, Benchmark> = {
  'hub.telemetry.ingest_per_s': ingestPerSecond,
  // after ingest_per_s in the same run: its interleaved rounds; alone: rounds of its own
  'hub.telemetry.raw_aedes_per_s': rawAedesPerSecond,
  'hub.rss_per_device_kb': rssPerDevice,
};
