// Raw broker workloads for the benchmarks (design §11): the fan-out baseline (one publisher sends each chunk
// of an artifact once to a topic N clients subscribe to) and a plain aedes broker to run it on, plus a
// Mosquitto started on 127.0.0.1 for broker.compare.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';

export const MOSQUITTO = '/usr/sbin/mosquitto';

export interface BrokerHandle {
  url: string;
  close(): Promise<void>;
}

/** A plain aedes broker (no access policy) on 127.0.0.1, port 0: the same broker the hub embeds. */
export async function startPlainAedes(): Promise<BrokerHandle> {
  const broker = await Aedes.createBroker();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    broker.handle(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await new Promise<void>((r) => broker.close(() => r()));
    },
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface MosquittoOptions {
  dir: string;
  /** Extra config lines (password_file, acl_file, …); anonymous access when none are given. */
  lines?: string[];
}

/** A Mosquitto on 127.0.0.1 (a free port), stopped by `close()`. */
export async function startMosquitto(options: MosquittoOptions): Promise<BrokerHandle & { port: number; process: ChildProcess }> {
  if (!existsSync(MOSQUITTO)) throw new Error(`${MOSQUITTO} is not installed (scripts/install-system-deps.sh)`);
  const port = await freePort();
  const conf = join(options.dir, `mosquitto-${port}.conf`);
  const lines = options.lines ?? ['allow_anonymous true'];
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'persistence false', 'max_queued_messages 100000', 'max_inflight_messages 0', 'user root', ...lines, ''].join('\n'));
  const child = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (await listening(port)) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`mosquitto did not start: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    process: child,
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function connect(url: string, clientId: string, auth?: { username: string; password: string }): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { clientId, protocolVersion: 4, reconnectPeriod: 0, clean: true, ...(auth ?? {}) });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

/**
 * The fan-out baseline: `subscribers` clients subscribe (QoS 1) to one topic; one publisher sends the
 * artifact's chunks once each (QoS 1, pipelined). Seconds from the first publish to the moment every
 * subscriber holds every chunk.
 */
export async function rawFanout(url: string, subscribers: number, artifact: Uint8Array, chunkSize: number): Promise<number> {
  const topic = 'bench/fanout';
  const chunks = Math.ceil(artifact.length / chunkSize);
  const clients: MqttClient[] = [];
  try {
    for (let i = 0; i < subscribers; i += 25) {
      clients.push(...(await Promise.all(Array.from({ length: Math.min(25, subscribers - i) }, (_, k) => connect(url, `fan-sub-${i + k}`)))));
    }
    let complete = 0;
    let resolveAll: () => void = () => undefined;
    let rejectAll: (err: Error) => void = () => undefined;
    const all = new Promise<void>((resolve, reject) => {
      resolveAll = resolve;
      rejectAll = reject;
    });
    await Promise.all(
      clients.map(async (c) => {
        let got = 0;
        let bytes = 0;
        c.on('message', (_t, payload) => {
          bytes += payload.length;
          if (++got === chunks) {
            if (bytes !== artifact.length) rejectAll(new Error(`a subscriber got ${bytes} of ${artifact.length} bytes`));
            else if (++complete === subscribers) resolveAll();
          }
        });
        await c.subscribeAsync(topic, { qos: 1 });
      }),
    );
    const pub = await connect(url, 'fan-pub');
    clients.push(pub);
    const t0 = process.hrtime.bigint();
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < chunks; i++) sends.push(pub.publishAsync(topic, Buffer.from(artifact.subarray(i * chunkSize, (i + 1) * chunkSize)), { qos: 1 }));
    await Promise.all([all, ...sends]);
    return Number(process.hrtime.bigint() - t0) / 1e9;
  } finally {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
  }
}
