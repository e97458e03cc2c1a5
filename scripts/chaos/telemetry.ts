// Acknowledged telemetry, counted from both ends: devices we control publish batches with unique seqs at
// QoS 1 (design §4 telemetry topic) and remember every seq a PUBACK came back for; after a clean hub
// restart the hub's SQLite file says which of them it stored. Acknowledged but not stored is lost.

import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { createWindow, histogramAdd, topics, type TelemetryBatch } from '../../protocol/src/index.js';

export interface PublisherDevice {
  id: string;
  token: string;
}

export interface AckedPublisher {
  /** Seqs acknowledged (PUBACK received) per device. */
  readonly acked: Map<string, Set<number>>;
  published(): number;
  ackedCount(): number;
  /** Stop publishing, wait up to `drainMs` for outstanding PUBACKs, then drop the connections. */
  stop(drainMs?: number): Promise<void>;
}

function batch(deviceId: string, seq: number, model: string, version: string): TelemetryBatch {
  // a window an agent could have closed just now: within any clock-skew bound, small plausible counts
  const end = Date.now();
  const w = createWindow(model, version, 'active', end - 10_000, end);
  for (let i = 0; i < 20; i++) histogramAdd(w.latencyMs, 1 + ((seq + i) % 13) * 0.5);
  w.inferences = 20;
  return { deviceId, seq, windows: [w], dropped: 0 };
}

/**
 * One MQTT connection per device, each keeping up to `inflight` QoS 1 publishes outstanding while it is
 * connected (so a hub that dies always has some batches between PUBACK and commit). mqtt.js resends
 * unacknowledged publishes after a reconnect; only a PUBACK counts.
 */
export function startAckedPublisher(options: {
  url: string;
  devices: PublisherDevice[];
  model: string;
  version: string;
  inflight?: number;
  /** Batches per second over all devices (default 800: steady ingest without eating the machine). */
  ratePerSecond?: number;
}): AckedPublisher {
  const inflightMax = options.inflight ?? 8;
  const perDevice = (options.ratePerSecond ?? 800) / options.devices.length;
  const startedAt = Date.now();
  const acked = new Map<string, Set<number>>();
  let published = 0;
  let stopping = false;
  const outstanding = new Set<Promise<void>>();
  const clients: MqttClient[] = [];
  const timers: NodeJS.Timeout[] = [];

  for (const d of options.devices) {
    const mine = new Set<number>();
    acked.set(d.id, mine);
    let seq = 0;
    let inflight = 0;
    const client = mqtt.connect(options.url, {
      clientId: d.id,
      username: d.id,
      password: d.token,
      protocolVersion: 4,
      reconnectPeriod: 300,
      connectTimeout: 5000,
      keepalive: 10,
    });
    clients.push(client);
    client.on('error', () => undefined); // refused while the hub restarts: reconnects
    const pump = () => {
      // paced: never ahead of the rate since the start, never more than `inflight` unacknowledged
      while (!stopping && client.connected && inflight < inflightMax && seq < ((Date.now() - startedAt) / 1000) * perDevice) {
        const s = ++seq;
        inflight++;
        published++;
        const body = JSON.stringify(batch(d.id, s, options.model, options.version));
        const p = new Promise<void>((resolve) => {
          client.publish(topics.telemetry(d.id), body, { qos: 1 }, (err) => {
            inflight--;
            if (!err) mine.add(s);
            resolve();
            setImmediate(pump);
          });
        });
        outstanding.add(p);
        void p.finally(() => outstanding.delete(p));
      }
    };
    client.on('connect', pump);
    timers.push(setInterval(pump, 20));
  }

  return {
    acked,
    published: () => published,
    ackedCount: () => [...acked.values()].reduce((n, s) => n + s.size, 0),
    async stop(drainMs = 5000) {
      stopping = true;
      for (const t of timers) clearInterval(t);
      await Promise.race([Promise.allSettled([...outstanding]), new Promise((r) => setTimeout(r, drainMs))]);
      await Promise.all(clients.map((c) => new Promise<void>((r) => c.end(true, {}, () => r()))));
    },
  };
}

export interface TelemetryAccount {
  acked: number;
  /** Acknowledged batches missing from telemetry_batches. */
  lost: number;
  /** Stored windows beyond one per stored batch (each batch carries one window): a batch counted twice. */
  duplicates: number;
  /** A few lost (device, seq) for the log. */
  examples: string[];
}

/** Reads the hub's own SQLite file (design §7 store) and compares it with what devices were acknowledged. */
export function accountTelemetry(dbFile: string, acked: Map<string, Set<number>>): TelemetryAccount {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    const seqsOf = db.prepare<[string], { seq: number }>('SELECT seq FROM telemetry_batches WHERE device_id = ?');
    const windowsOf = db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM telemetry_windows WHERE device_id = ?');
    let ackedN = 0;
    let lost = 0;
    let duplicates = 0;
    const examples: string[] = [];
    for (const [id, seqs] of acked) {
      const stored = new Set(seqsOf.all(id).map((r) => r.seq));
      ackedN += seqs.size;
      for (const s of seqs) {
        if (stored.has(s)) continue;
        lost++;
        if (examples.length < 5) examples.push(`${id}#${s}`);
      }
      duplicates += Math.max(0, windowsOf.get(id)!.n - stored.size);
    }
    return { acked: ackedN, lost, duplicates, examples };
  } finally {
    db.close();
  }
}
