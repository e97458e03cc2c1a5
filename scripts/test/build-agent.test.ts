// `npm run build:agent` (design §9): the single-executable agent, built once into a temp dir and copied to
// another (so nothing can fall back on the repo's node_modules), answers --help, and end to end gets a model
// rolled out by a real hub over MQTT, stores it in SQLite and serves it through its local OIP API with
// onnxruntime — the same numbers as onnxruntime in this process.

import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildMlpClassifier } from '@edgefleet/protocol/onnx';
import { startHub, type Hub } from '@edgefleet/hub';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'edgefleet-build-agent-test-'));
const installed = join(dir, 'opt-edgefleet');
const exe = join(installed, 'edgefleet-agent');
// what the systemd unit gives it: no NODE_OPTIONS, NODE_PATH or vitest variables, onnxruntime's telemetry off
const cleanEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, ORT_DISABLE_TELEMETRY: '1' };

let hub: Hub | undefined;
const children: ChildProcess[] = [];

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(file, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return exited(child).then((code) => ({ code, stdout, stderr }));
}

beforeAll(async () => {
  const built = join(dir, 'build');
  const r = await run(join(root, 'node_modules', '.bin', 'tsx'), [join(root, 'scripts', 'build-agent.ts'), '--out', built], process.env);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toContain(join(built, 'edgefleet-agent'));
  cpSync(built, installed, { recursive: true });
  rmSync(built, { recursive: true, force: true });
}, 180_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(children.map(exited));
  await hub?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('npm run build:agent', () => {
  it('produces an executable that runs --help from a folder with no node_modules above it', async () => {
    for (let d = dirname(installed); d !== dirname(d); d = dirname(d)) expect(existsSync(join(d, 'node_modules')), d).toBe(false);
    expect(existsSync(join(installed, 'edgefleet-agent.service'))).toBe(true);
    const r = await run(exe, ['--help'], cleanEnv);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^usage: edgefleet-agent --config agent\.json/);
    // the SEA's builtins-only require would print a warning if the bundle still required a package
    expect(r.stderr).toBe('');
  });

  it('ships a systemd unit that systemd-analyze accepts without a warning and rates as hardened', async () => {
    // the unit as installed, pointed at this build: verify parses every key and value and checks ExecStart
    const unit = join(dir, 'edgefleet-agent.service');
    const text = readFileSync(join(installed, 'edgefleet-agent.service'), 'utf8');
    expect(text).toMatch(/^ExecStart=\/opt\/edgefleet\/edgefleet-agent /m);
    writeFileSync(unit, text.replace(/^ExecStart=\/opt\/edgefleet\/edgefleet-agent /m, `ExecStart=${exe} `));
    const verify = await run('systemd-analyze', ['verify', '--man=no', unit], cleanEnv);
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stderr).toBe(''); // an unknown key or a bad value is only a warning there
    const security = await run('systemd-analyze', ['security', '--offline=true', '--no-pager', unit], cleanEnv);
    const level = /Overall exposure level for edgefleet-agent\.service: ([\d.]+)/.exec(security.stdout);
    expect(level, security.stdout + security.stderr).not.toBeNull();
    // systemd's scale: 0 (locked down) … 10 (unprotected); "OK" is below 3. Reported for the closing note.
    console.log(`systemd-analyze security: exposure ${level![1]} / 10`);
    expect(Number(level![1])).toBeLessThan(3);
  });

  it('gets a model rolled out by a real hub and serves it through its local API like onnxruntime', async () => {
    hub = await startHub({ dataDir: join(dir, 'hub'), http: '127.0.0.1:0', mqtt: '127.0.0.1:0', ws: null, log: () => {} });
    const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => {
      const init: RequestInit = { method, headers: { authorization: `Bearer ${hub!.adminToken}` } };
      if (body instanceof FormData) init.body = body;
      else if (body !== undefined) {
        init.body = JSON.stringify(body);
        (init.headers as Record<string, string>)['content-type'] = 'application/json';
      }
      const res = await fetch(`${hub!.urls.http}/api/v1${path}`, init);
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    };

    const added = await call('POST', '/devices', { id: 'dev-sea', tags: { build: 'sea' } });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    const config = join(dir, 'agent.json');
    writeFileSync(config, JSON.stringify(added.body.agentConfig), { mode: 0o600 });

    // softmax regression features[batch, 4] → probabilities[batch, 3], label[batch]
    const weights = Float32Array.from({ length: 12 }, (_, i) => Math.sin(i + 1));
    const biases = Float32Array.from([0.1, -0.2, 0.05]);
    const model = buildMlpClassifier({ weights: [weights], biases: [biases] });
    const form = new FormData();
    form.set('file', new Blob([new Uint8Array(model)]), 'model.onnx');
    form.set('name', 'sea');
    form.set('version', '1.0.0');
    expect((await call('POST', '/models', form)).status).toBe(201);
    expect((await call('POST', '/rollouts', { model: 'sea', version: '1.0.0', targets: { devices: ['dev-sea'] } })).status).toBe(201);

    const agent = spawn(exe, ['--config', config, '--data', join(dir, 'agent-data'), '--api', '127.0.0.1:0', '--quiet'], {
      cwd: dir,
      env: cleanEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(agent);
    let stdout = '';
    let stderr = '';
    agent.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    agent.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // the bin prints the address it bound once it serves (port 0 = a free one)
    await expect.poll(() => stdout, { timeout: 20_000, interval: 50 }).toMatch(/api=http:\/\/127\.0\.0\.1:\d+/);
    const apiUrl = /api=(\S+)/.exec(stdout)![1]!;
    expect(stdout).toMatch(/^edgefleet-agent dev-sea /);

    // downloaded over MQTT, verified, self-tested and activated
    await expect
      .poll(async () => (await fetch(`${apiUrl}/v2/models/sea/versions/1.0.0/ready`)).status, { timeout: 30_000, interval: 100 })
      .toBe(200);

    const x = Float32Array.from([0.5, -1, 2, 0.25, -0.75, 0.3, 1.5, -2]);
    const res = await fetch(`${apiUrl}/v2/models/sea/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'req-1', inputs: [{ name: 'features', shape: [2, 4], datatype: 'FP32', data: Array.from(x) }] }),
    });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { model_version: string; id: string; outputs: { name: string; data: number[] }[] };
    expect(answer.model_version).toBe('1.0.0');
    expect(answer.id).toBe('req-1');

    const session = await ort.InferenceSession.create(model);
    try {
      const bare = await session.run({ features: new ort.Tensor('float32', x, [2, 4]) });
      expect(answer.outputs.find((o) => o.name === 'probabilities')!.data).toEqual(Array.from(bare.probabilities!.data as Float32Array));
      expect(answer.outputs.find((o) => o.name === 'label')!.data).toEqual(Array.from(bare.label!.data as BigInt64Array, Number));
    } finally {
      await session.release();
    }

    // the hub sees the device on the version it rolled out (reported state over MQTT)
    await expect.poll(async () => JSON.stringify((await call('GET', '/devices/dev-sea')).body), { timeout: 20_000, interval: 100 }).toContain('"1.0.0"');

    agent.kill('SIGTERM');
    expect(await exited(agent)).toBe(0);
    expect(stderr).toBe('');
  });
});
