// The processes behind rollout.hub_cpu and rollout.agent_activate (design §11), each measured by its own
// CPU time (process.cpuUsage), apart from the processes that load it:
//   hub            a hub on the embedded broker; prints { http, token }
//   broker N       a bare aedes that publishes the model's chunks itself once, QoS 1, on "go"; prints { url }
//   agent CONFIG   one real agent (its own onnxruntime session); prints {}
//   bare DIR       the bare steps of an activation: sha256, write + fsync, InferenceSession.create, one run
// Each then answers "cpu" on stdin with one JSON line: { cpu: seconds, at, pid, ...what it knows }; "exit" ends it.

import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startHub } from '@edgefleet/hub'; // first: its ort-env keeps onnxruntime-node below from phoning home
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
const say = (x: unknown) => process.stdout.write(JSON.stringify(x) + '\n');
const [mode, arg] = process.argv.slice(2);
const dir = mkdtempSync(join(tmpdir(), `edgefleet-bench-${mode}-`));
let answer: () => Promise<Record<string, unknown>> = async () => ({});
let close: () => Promise<void> = async () => undefined;

if (mode === 'hub') {
  const hub = await startHub({ dataDir: dir, http: '127.0.0.1:0', mqtt: '127.0.0.1:0', ws: null });
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
  createInterface({ input: process.stdin }).on('line', (l) => {
    if (l.trim() !== 'go') return;
    for (let i = 0; i < chunks; i++) {
      const payload = Buffer.from(model.subarray(i * DEFAULT_CHUNK_SIZE, (i + 1) * DEFAULT_CHUNK_SIZE));
      broker.publish({ cmd: 'publish', topic: 'bench/fanout', payload, qos: 1, retain: false, dup: false }, () => undefined);
    }
  });
} else if (mode === 'agent') {
  const agent = createAgent(JSON.parse(readFileSync(arg!, 'utf8')) as unknown, { dataDir: join(dir, 'agent'), api: false });
  await agent.start();
  answer = async () => ({ slots: Object.fromEntries(Object.entries(agent.core.slots()).map(([k, v]) => [k, v?.active?.version ?? null])) });
  close = () => agent.stop();
  say({});
} else if (mode === 'bare') {
  const model = sizedClassifier(FANOUT_MODEL_BYTES, 2);
  answer = async () => {
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
    return { bare };
  };
  say({});
} else {
  throw new Error(`unknown mode ${String(mode)}`);
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const l = line.trim();
  // at: µs on the monotonic clock of a --cpu-prof profile's timestamps, so a profile can be cut to the measured span
  if (l === 'cpu') void answer().then((x) => say({ cpu: cpu(), at: Number(process.hrtime.bigint() / 1000n), pid: process.pid, user: process.cpuUsage().user / 1e6, threads: threadCpu(), ...x }));
  else if (l === 'exit') {
    void close().finally(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    });
  }
});
