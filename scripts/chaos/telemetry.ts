// Acknowledged telemetry, counted from both ends: devices we control publish batches with unique seqs at
// QoS 1 (design §4 telemetry topic) and remember every seq a PUBACK (or, behind an external broker, the
// hub's telemetry-confirm) came back for; after a clean hub restart the hub's SQLite file says which of
// them it stored. Acknowledged but not stored is lost.

import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { Command, createWindow, histogramAdd, topics, type TelemetryBatch } from '@edgefleet/protocol';

export interface PublisherDevice {
  id: string;
  token: string;
}

export interface AckedPublisher {
  /** Seqs acknowledged (PUBACK received) per device. */
  readonly acked: Map<string, Set<number>>;
  published(): number;
  ackedCount(): number;
  /** With `confirm`: batches sent but not yet confirmed by the hub. */
  unconfirmed?(): number;
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

/** A `telemetry-confirm` command's committed seq ranges, or null (design §4 telemetry confirm). */
function confirmedRanges(deviceId: string, payload: Buffer): Array<[number, number]> | null {
  try {
    // the envelope's payload, not its signatures: this publisher stands in for a device, it does not
    // guard one (the agent verifies with verifyCommand; a forged confirmation could only hide a loss here)
    const env = JSON.parse(payload.toString('utf8')) as { payload?: unknown };
    if (typeof env.payload !== 'string') return null;
    const r = Command.safeParse(JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')));
    if (!r.success || r.data.deviceId !== deviceId || r.data.action !== 'telemetry-confirm') return null;
    return r.data.telemetryRanges ?? null;
  } catch {
    return null;
  }
}

/**
 * One MQTT connection per device, each keeping up to `inflight` QoS 1 publishes outstanding while it is
 * connected (so a hub that dies always has some batches between PUBACK and commit). mqtt.js resends
 * unacknowledged publishes after a reconnect; only a PUBACK counts — or, with `confirm` (a hub behind an
 * external broker, whose PUBACK is the broker's), only the hub's confirmation on the device's command
 * topic, and unconfirmed batches are sent again (same seq) after `resendMs` or a reconnect, as the agent does.
 */
export function startAckedPublisher(options: {
  url: string;
  devices: PublisherDevice[];
  model: string;
  version: string;
  inflight?: number;
  /** Batches per second over all devices (default 800: steady ingest without eating the machine). */
  ratePerSecond?: number;
  /** Count a batch only once the hub confirms its seq (design §4 telemetry confirm). */
  confirm?: boolean;
  /** With `confirm`: re-send a batch not confirmed this long after its PUBACK (default 10 s). */
  resendMs?: number;
}): AckedPublisher {
  const inflightMax = options.inflight ?? 8;
  const perDevice = (options.ratePerSecond ?? 800) / options.devices.length;
  const resendMs = options.resendMs ?? 10_000;
  const startedAt = Date.now();
  const acked = new Map<string, Set<number>>();
  let published = 0;
  let stopping = false;
  const outstanding = new Set<Promise<void>>();
  const clients: MqttClient[] = [];
  const timers: NodeJS.Timeout[] = [];
  const unconfirmedSets: Array<Map<number, { body: string; sentAt: number | null }>> = [];

  for (const d of options.devices) {
    const mine = new Set<number>();
    acked.set(d.id, mine);
    // with confirm: PUBACKed (sentAt) or in flight (null), not yet confirmed by the hub
    const unconfirmed = new Map<number, { body: string; sentAt: number | null }>();
    unconfirmedSets.push(unconfirmed);
    let seq = 0;
    // seqs whose PUBACK is awaited on this connection; a connection that closes forgets them (mqtt.js may
    // or may not resend them itself: with confirm they are sent again, the hub de-duplicates)
    const inflight = new Set<number>();
    let connectedAt = 0;
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
    const send = (s: number, body: string) => {
      inflight.add(s);
      if (options.confirm) unconfirmed.set(s, { body, sentAt: null });
      const p = new Promise<void>((resolve) => {
        client.publish(topics.telemetry(d.id), body, { qos: 1 }, (err) => {
          inflight.delete(s);
          if (!err && !options.confirm) mine.add(s);
          const u = unconfirmed.get(s);
          if (u) u.sentAt = err ? 0 : Date.now(); // not acknowledged: due again at once
          resolve();
          setImmediate(pump);
        });
      });
      outstanding.add(p);
      void p.finally(() => outstanding.delete(p));
    };
    const pump = () => {
      if (!client.connected) return;
      // unconfirmed batches first, oldest seq first: PUBACKed before the last reconnect, or too long ago
      if (options.confirm) {
        const due = Math.max(Date.now() - resendMs, connectedAt);
        for (const [s, u] of unconfirmed) {
          if (inflight.size >= inflightMax) return;
          if (u.sentAt !== null && u.sentAt < due) send(s, u.body);
        }
      }
      // paced: never ahead of the rate since the start, never more than `inflight` unacknowledged
      while (!stopping && inflight.size < inflightMax && seq < ((Date.now() - startedAt) / 1000) * perDevice) {
        const s = ++seq;
        published++;
        send(s, JSON.stringify({ ...batch(d.id, s, options.model, options.version), ...(options.confirm ? { confirm: true } : {}) }));
      }
    };
    client.on('close', () => {
      if (!options.confirm) return;
      for (const s of inflight) {
        const u = unconfirmed.get(s);
        if (u) u.sentAt = 0; // due again after the reconnect
      }
      inflight.clear();
    });
    client.on('connect', () => {
      connectedAt = Date.now();
      if (options.confirm) client.subscribe(topics.command(d.id), { qos: 1 }, () => undefined);
      pump();
    });
    if (options.confirm) {
      client.on('message', (topic, payload) => {
        if (topic !== topics.command(d.id)) return;
        const ranges = confirmedRanges(d.id, payload);
        if (!ranges) return;
        for (const [s] of unconfirmed) {
          if (!ranges.some(([from, to]) => s >= from && s <= to)) continue;
          unconfirmed.delete(s);
          mine.add(s);
        }
      });
    }
    timers.push(setInterval(pump, 20));
  }

  const pendingConfirms = () => unconfirmedSets.reduce((n, u) => n + u.size, 0);
  return {
    acked,
    published: () => published,
    ackedCount: () => [...acked.values()].reduce((n, s) => n + s.size, 0),
    async stop(drainMs = 5000) {
      stopping = true;
      let deadline = Date.now() + drainMs;
      // with confirm: keep re-sending until the hub confirmed everything, as long as confirmations come
      // (a hub working through a broker's backlog) — at most a minute, never longer than 2 re-send periods without one
      if (options.confirm) {
        const hardStop = Date.now() + 60_000;
        let left = pendingConfirms();
        let progressAt = Date.now();
        while (left > 0 && Date.now() < hardStop && Date.now() - progressAt < resendMs * 2) {
          await new Promise((r) => setTimeout(r, 100));
          const now = pendingConfirms();
          if (now < left) progressAt = Date.now();
          left = now;
        }
        deadline = Date.now() + drainMs;
      }
      for (const t of timers) clearInterval(t);
      await Promise.race([Promise.allSettled([...outstanding]), new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())))]);
      await Promise.all(clients.map((c) => new Promise<void>((r) => c.end(true, {}, () => r()))));
    },
    ...(options.confirm ? { unconfirmed: pendingConfirms } : {}),
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
