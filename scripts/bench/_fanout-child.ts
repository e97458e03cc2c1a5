// The processes behind rollout.hub_cpu and rollout.agent_activate (design §11), each measured by its own
// CPU time (process.cpuUsage), apart from the processes that load it:
//   hub [OPTIONS]  a hub on the embedded broker (OPTIONS: JSON of more startHub options); prints { http, token }
//   broker         a bare aedes that publishes the model's chunks itself once, QoS 1, on "go" (stdin) or
//                  when a client publishes to bench/go; prints { url, chunks }
//   agent CONFIG   one real agent (its own onnxruntime session); prints {}; "wait V" answers once its
//                  `fanout` slot serves version V (an event, not a poll: polling would add CPU to the span)
//   bare [URL]     the bare steps of an activation, "cpu" runs one more pass (a new model each): sha256,
//                  write + fsync, InferenceSession.create, one run; as the agent, it already holds a session.
//                  With a broker's URL, each pass first receives that broker's chunks as a bare mqtt.js
//                  subscriber into one buffer (its CPU apart, as `recv`)
// Each then answers "cpu" on stdin with one JSON line: { cpu: seconds, at, pid, ...what it knows }; "exit" ends it.

import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startHub, type HubOptions } from '@edgefleet/hub'; // first: its ort-env keeps onnxruntime-node below from phoning home
import { createAgent } from '@edgefleet/agent';
import { DEFAULT_CHUNK_SIZE } from '@edgefleet/protocol';
import * as ort from 'onnxruntime-node';
import { sizedClassifier } from '../sim/models.js';

export const FANOUT_MODEL_BYTES = 4 * 1024 * 1024;
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const threadCpu = () => {
  const out: Record<string, number> = {};
  for (const t of readdirSync('/proc/self/task')) {
    try {
      const st = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      const comm = t === String(process.pid) ? 'main' : st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'));
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      out[comm] = (out[comm] ?? 0) + (Number(f[11]) + Number(f[12])) / 100;
    } catch { /* gone */ }
  }
  return out;
};
/** The process's read and write syscalls so far (/proc/self/io: writev and sendmsg count as writes). */
const syscalls = () => {
  const io = readFileSync('/proc/self/io', 'utf8');
  return { syscr: Number(/syscr: (\d+)/.exec(io)?.[1]), syscw: Number(/syscw: (\d+)/.exec(io)?.[1]) };
};
const say = (x: unknown) => process.stdout.write(JSON.stringify(x) + '\n');
const [mode, arg] = process.argv.slice(2);
const dir = mkdtempSync(join(tmpdir(), `edgefleet-bench-${mode}-`));
let answer: () => Promise<Record<string, unknown>> = async () => ({});
let waitVersion: (version: string) => Promise<void> = async () => undefined;
let close: () => Promise<void> = async () => undefined;

if (mode === 'hub') {
  const hub = await startHub({ dataDir: dir, http: '127.0.0.1:0', mqtt: '127.0.0.1:0', ws: null, ...(arg ? (JSON.parse(arg) as Partial<HubOptions>) : {}) });
  answer = async () => ({ frames: hub.metrics.get('edgefleet_artifact_chunks_sent_total'), multicast: hub.metrics.get('edgefleet_artifact_multicast_frames_total') });
  close = () => hub.close();
  say({ http: hub.urls.http, token: hub.adminToken });
} else if (mode === 'broker') {
  // the publisher is the broker itself (aedes.publish), as the hub publishes through its embedded aedes
  const { Aedes } = await import('aedes');
  const net = await import('node:net');
  const broker = await Aedes.createBroker();
  const server = net.createServer((s) => broker.handle(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const model = sizedClassifier(FANOUT_MODEL_BYTES);
  const chunks = Math.ceil(model.length / DEFAULT_CHUNK_SIZE);
  answer = async () => ({ chunks });
  close = async () => {
    server.close();
    await new Promise<void>((r) => broker.close(() => r()));
  };
  say({ url: `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`, chunks });
  const go = () => {
    for (let i = 0; i < chunks; i++) {
      const payload = Buffer.from(model.subarray(i * DEFAULT_CHUNK_SIZE, (i + 1) * DEFAULT_CHUNK_SIZE));
      broker.publish({ cmd: 'publish', topic: 'bench/fanout', payload, qos: 1, retain: false, dup: false }, () => undefined);
    }
  };
  broker.on('publish', (packet, client) => {
    if (client && packet.topic === 'bench/go') go();
  });
  createInterface({ input: process.stdin }).on('line', (l) => {
    if (l.trim() === 'go') go();
  });
} else if (mode === 'agent') {
  const agent = createAgent(JSON.parse(readFileSync(arg!, 'utf8')) as unknown, { dataDir: join(dir, 'agent'), api: false, ...(process.env.EDGEFLEET_BENCH_AGENT_LOG ? { log: (l: string) => process.stderr.write(`agent: ${l}\n`) } : {}) });
  await agent.start();
  answer = async () => ({ slots: Object.fromEntries(Object.entries(agent.core.slots()).map(([k, v]) => [k, v?.active?.version ?? null])) });
  waitVersion = (version) => agent.core.waitFor((c) => c.slots().fanout?.active?.version === version, 180_000);
  close = () => agent.stop();
  say({});
} else if (mode === 'bare') {
  // the agent being compared holds its current model's session while it loads the next: so does this one
  const first = sizedClassifier(FANOUT_MODEL_BYTES, 1); // = what the broker mode publishes
  const held = await ort.InferenceSession.create(first);
  const { default: mqtt } = await import('mqtt');
  const sub = arg ? await mqtt.connectAsync(arg, { protocolVersion: 4, reconnectPeriod: 0, clean: true }) : null;
  await sub?.subscribeAsync('bench/fanout', { qos: 1 });
  /** One receive of the broker's chunks into one buffer, as a bare subscriber: CPU seconds. */
  const receive = async (): Promise<number> => {
    const image = new Uint8Array(first.length);
    let at = 0;
    const t0 = cpu();
    await new Promise<void>((resolve) => {
      const onMessage = (_t: string, payload: Buffer) => {
        image.set(payload, at);
        at += payload.length;
        if (at === image.length) {
          sub!.off('message', onMessage);
          resolve();
        }
      };
      sub!.on('message', onMessage);
      sub!.publish('bench/go', '');
    });
    return cpu() - t0;
  };
  let pass = 0;
  answer = async () => {
    const recv = sub ? await receive() : null;
    const model = sizedClassifier(FANOUT_MODEL_BYTES, 2 + pass++); // built before the span: the agent receives its bytes
    const t0 = cpu();
    const sha = createHash('sha256').update(model).digest('hex');
    const file = join(dir, `${sha}.onnx`);
    const fd = openSync(file, 'w');
    writeSync(fd, model);
    fsyncSync(fd);
    closeSync(fd);
    const session = await ort.InferenceSession.create(file);
    const input = session.inputNames[0]!;
    await session.run({ [input]: new ort.Tensor('float32', new Float32Array(6), [1, 6]) });
    const bare = cpu() - t0;
    await session.release();
    return { bare, recv };
  };
  close = async () => {
    await sub?.endAsync(true);
    await held.release();
  };
  say({});
} else {
  throw new Error(`unknown mode ${String(mode)}`);
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const l = line.trim();
  // at: µs on the monotonic clock of a --cpu-prof profile's timestamps, so a profile can be cut to the measured span
  if (l.startsWith('wait ')) void waitVersion(l.slice(5)).then(() => say({ cpu: cpu(), at: Number(process.hrtime.bigint() / 1000n), pid: process.pid, threads: threadCpu() }));
  else if (l === 'cpu') void answer().then((x) => say({ cpu: cpu(), at: Number(process.hrtime.bigint() / 1000n), pid: process.pid, user: process.cpuUsage().user / 1e6, threads: threadCpu(), ...syscalls(), ...x }));
  else if (l === 'exit') {
    void close().finally(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    });
  }
});
