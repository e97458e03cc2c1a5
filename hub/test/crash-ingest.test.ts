// kill -9 of the hub mid-ingest loses no acknowledged telemetry and counts none twice (design §4: QoS 1
// telemetry is acknowledged once committed; the hub de-duplicates on (deviceId, seq)). A real device
// client publishes batches with unique seqs, resends what was not acknowledged when the connection died,
// and the hub is killed with SIGKILL five times and restarted on the same data dir.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { Command, Envelope, createWindow, fromBase64, topics, utf8Decode } from '@edgefleet/protocol';
import { apiClient, connectDevice, endClient, tempDir, waitFor } from './helpers.js';
import { MOSQUITTO, killHard, spawnHub, startMosquitto, type HubProcess, type MosquittoProcess } from './processes.js';

const KILLS = 5;
const HUB_PASSWORD = 'hub-secret-for-tests-only';

/** A device's outbox as the agent keeps it: a batch is forgotten only once acknowledged. */
function createDevice(deviceId: string) {
  const acked = new Set<number>();
  const retry: number[] = [];
  let next = 1;
  let limit = Infinity;
  const window = createWindow('tiny', '1.0.0', 'active', Date.now(), Date.now() + 60_000);
  window.inferences = 1;
  const body = (seq: number) => JSON.stringify({ deviceId, seq, windows: [window], dropped: 0 });
  return {
    acked,
    sent: () => next - 1,
    pendingRetries: () => retry.length,
    /** No new batches past this many; the ones not yet acknowledged are still resent. */
    stopAt(n: number) {
      limit = n;
    },
    /** Publish `inflight` batches at a time on `client` until its connection closes. */
    attach(client: MqttClient, inflight: number, onAck: () => void) {
      const unacked = new Set<number>();
      let open = true;
      let active = 0;
      const pump = () => {
        while (open && active < inflight) {
          const seq = retry.shift() ?? (next <= limit ? next++ : undefined);
          if (seq === undefined) return;
          unacked.add(seq);
          active++;
          client.publish(topics.telemetry(deviceId), body(seq), { qos: 1 }, (err) => {
            if (!open) return;
            active--;
            if (err) return;
            unacked.delete(seq);
            acked.add(seq);
            onAck();
            pump();
          });
        }
      };
      client.once('close', () => {
        open = false;
        retry.push(...unacked); // the agent keeps these in its outbox and sends them again
      });
      pump();
      return { unacked: () => unacked.size };
    },
  };
}

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

function stored(dataDir: string): { seqs: Set<number>; windows: number; inferences: number } {
  const db = new Database(join(dataDir, 'hub.db'), { readonly: true });
  try {
    const seqs = new Set(db.prepare<[], { seq: number }>('SELECT seq FROM telemetry_batches').all().map((r) => r.seq));
    const windows = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM telemetry_windows').get()!.n;
    const inferences = db.prepare<[], { n: number | null }>('SELECT SUM(inferences) AS n FROM rollups').get()!.n ?? 0;
    return { seqs, windows, inferences };
  } finally {
    db.close();
  }
}

function expectExactlyOnce(dataDir: string, acked: Set<number>) {
  const s = stored(dataDir);
  const lost = [...acked].filter((q) => !s.seqs.has(q));
  expect({ lost: lost.length, stored: s.seqs.size }).toEqual({ lost: 0, stored: acked.size });
  // each batch has one window of one inference: counted once, in raw windows and in rollups
  expect(s.windows).toBe(acked.size);
  expect(s.inferences).toBe(acked.size);
}

describe('hub killed with SIGKILL mid-ingest', () => {
  let dir: ReturnType<typeof tempDir> | undefined;
  let hub: HubProcess | undefined;
  let broker: MosquittoProcess | undefined;
  let client: MqttClient | undefined;
  afterEach(async () => {
    await endClient(client);
    await killHard(hub);
    await broker?.stop();
    dir?.remove();
    client = hub = broker = dir = undefined;
  });

  /** Mosquitto as `--broker` mode expects it, a hub child process on it, and `deviceId` connected to it. */
  async function brokerHub(deviceId: string): Promise<{ data: string; args: string[] }> {
    dir = tempDir();
    const data = join(dir.path, 'data');
    broker = await startMosquitto(dir.path, HUB_PASSWORD, ['max_queued_messages 100000']);
    const args = ['--data', data, '--http', '127.0.0.1:0', '--broker', broker.hubUrl, '--mosquitto-password-file', broker.passwd, '--mosquitto-pid-file', broker.pidFile];
    hub = await spawnHub(args, false);
    const api = apiClient(hub.urls.http!, readFileSync(join(data, 'admin-token'), 'utf8').trim());
    const token = (await api.post('/devices', { id: deviceId })).body.token as string;
    const url = `mqtt://127.0.0.1:${broker.port}`;
    client = await waitFor(() => connectDevice(url, deviceId, token).catch(() => null), 'device connects to mosquitto');
    return { data, args };
  }

  it('embedded broker: every acknowledged batch is stored exactly once across five kills', async () => {
    dir = tempDir();
    const data = join(dir.path, 'data');
    const args = ['--data', data, '--http', '127.0.0.1:0', '--mqtt', '127.0.0.1:0', '--ws', 'off'];
    hub = await spawnHub(args);
    const api = apiClient(hub.urls.http!, readFileSync(join(data, 'admin-token'), 'utf8').trim());
    const token = (await api.post('/devices', { id: 'dev-k' })).body.token as string;
    const device = createDevice('dev-k');
    const random = rng(11);
    for (let round = 0; round <= KILLS; round++) {
      const h = hub;
      client = await connectDevice(h.urls.mqtt!, 'dev-k', token);
      const closed = new Promise((r) => client!.once('close', r));
      if (round === KILLS) {
        device.stopAt(device.sent() + 200);
        device.attach(client, 16, () => undefined);
        await waitFor(() => device.acked.size === device.sent() && device.pendingRetries() === 0 && device.sent() > 0, 'last batches acknowledged', 30_000);
        await endClient(client);
        h.child.kill('SIGTERM');
        expect(await h.exited).toBe(0);
        break;
      }
      const killAt = device.acked.size + 100 + Math.floor(random() * 400);
      device.attach(client, 16, () => {
        if (device.acked.size >= killAt && h.child.exitCode === null && h.child.signalCode === null) h.child.kill('SIGKILL');
      });
      await closed;
      await h.exited;
      await endClient(client);
      hub = await spawnHub(args);
    }
    expectExactlyOnce(data, device.acked);
  }, 120_000);

  it.skipIf(!existsSync(MOSQUITTO))('Mosquitto (--broker): the hub acknowledges to the broker only after commit, so the session redelivers', async () => {
    const { data, args } = await brokerHub('dev-m');
    const device = createDevice('dev-m');
    const random = rng(7);
    // the broker acknowledges the device at once, whether the hub is up or not; the hub must not
    // acknowledge the broker before its commit, or what it held when killed is gone
    device.stopAt(6000);
    device.attach(client, 4, () => undefined);
    let kills = 0;
    for (let round = 0; round < KILLS; round++) {
      const h = hub!;
      const killAt = stored(data).seqs.size + 100 + Math.floor(random() * 400);
      // a hub that lost the session's messages never gets there: the check below counts what it lost
      const ingesting = await waitFor(() => stored(data).seqs.size >= killAt, `hub ingesting (round ${round})`, 20_000).catch(() => false);
      if (!ingesting) break;
      h.child.kill('SIGKILL');
      await h.exited;
      kills++;
      hub = await spawnHub(args, false);
    }
    await waitFor(() => device.acked.size === 6000, 'the broker acknowledged every batch', 60_000);
    await waitFor(() => stored(data).seqs.size >= 6000, 'the hub committed every batch', 60_000).catch(() => undefined);
    hub!.child.kill('SIGTERM');
    expect(await hub!.exited).toBe(0);
    expectExactlyOnce(data, device.acked);
    expect(kills).toBe(KILLS);
  }, 180_000);

  it.skipIf(!existsSync(MOSQUITTO))('Mosquitto (--broker), batches asking for confirmation: acknowledged to the broker at once, none lost once the hub confirms it', async () => {
    const { data, args } = await brokerHub('dev-c');
    // the agent's outbox with `confirm` (design §4): a batch is forgotten only once a hub confirmation names it
    const TOTAL = 3000;
    const confirmed = new Set<number>();
    const window = createWindow('tiny', '1.0.0', 'active', Date.now(), Date.now() + 60_000);
    window.inferences = 1;
    const send = (seq: number) => client!.publishAsync(topics.telemetry('dev-c'), JSON.stringify({ deviceId: 'dev-c', seq, windows: [window], dropped: 0, confirm: true }), { qos: 1 });
    client.on('message', (_topic, payload) => {
      const cmd = Command.parse(JSON.parse(utf8Decode(fromBase64(Envelope.parse(JSON.parse(payload.toString('utf8'))).payload))));
      for (const [from, to] of cmd.telemetryRanges ?? []) for (let q = from; q <= to; q++) confirmed.add(q);
    });
    await client.subscribeAsync(topics.command('dev-c'), { qos: 1 });
    const resendUnconfirmed = async (upTo: number) => {
      for (let q = 1; q <= upTo; q++) if (!confirmed.has(q)) await send(q);
    };
    const random = rng(5);
    let sent = 0;
    for (let round = 0; round < KILLS; round++) {
      const until = sent + 300 + Math.floor(random() * 300);
      while (sent < until) await send(++sent);
      hub!.child.kill('SIGKILL'); // batches the broker handed over but the hub had not committed die here
      await hub!.exited;
      hub = await spawnHub(args, false);
      await resendUnconfirmed(sent);
    }
    while (sent < TOTAL) await send(++sent);
    await waitFor(async () => {
      if (confirmed.size < TOTAL) await resendUnconfirmed(TOTAL);
      return confirmed.size === TOTAL;
    }, 'the hub confirmed every batch', 60_000);
    hub!.child.kill('SIGTERM');
    expect(await hub!.exited).toBe(0);
    expectExactlyOnce(data, confirmed);
  }, 180_000);
});
