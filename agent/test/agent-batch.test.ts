// Batch inference on device data (design §2 `edgefleet-agent batch`, §4 command `batch`), on a data dir a real
// hub deployed to a real agent: the offline bin over JSONL and CSV equals agent.infer row for row, bad rows are
// counted by line, a running daemon or an unverified model ends it with exit 2; the signed command runs in the
// daemon and reports, an unsigned or escaping one is refused with a code. Real onnxruntime throughout.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type Hub } from '@edgefleet/hub';
import { createAgent, type Agent } from '@edgefleet/agent';
import { generateKeyPair, signDocument, topics, type DeviceEvent } from '@edgefleet/protocol';
import { AGENT_BIN, agentBuilt, until } from './support/agent-process.js';
import { classifier, floats, FEATURES, tmpDir } from './support/fleet-harness.js';
import { hubApi, type HubApi } from './support/hub-api.js';

const ROWS = 6;
const LABELS = ['low', 'mid', 'high'];
const FAST = { core: { retry: { baseMs: 100, maxMs: 1000 }, download: { timeoutMs: 500 } }, reconnect: { initialMs: 50, maxMs: 500 } };

let hub: Hub;
let api: HubApi;
let config: Record<string, unknown>;
let configFile: string;
let dataDir: string;
let batchDir: string;
/** Row i of the test data, and what agent.infer answered for it (probabilities, label). */
const x: number[][] = [];
const expected: { probabilities: number[]; label: number[] }[] = [];

function runBin(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [AGENT_BIN, 'batch', '--config', configFile, '--data', dataDir, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
}

const readJsonl = (file: string): any[] => fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const jsonlRows = (): string => x.map((r, i) => JSON.stringify(i % 2 ? { input: r } : { inputs: [{ name: 'features', shape: [1, FEATURES], datatype: 'FP32', data: r }] })).join('\n') + '\n';
const outputOf = (row: any, name: string): number[] => row.outputs.find((o: { name: string }) => o.name === name).data;

async function events(): Promise<DeviceEvent[]> {
  return (await api.get('/devices/dev-batch')).body.events;
}

async function inferencesAtHub(): Promise<number> {
  const fleet = await api.get('/fleet/status');
  return fleet.body.health.find((h: { model: string; version: string }) => h.model === 'm' && h.version === '1.0.0')?.inferences ?? 0;
}

function startAgent(): Agent {
  return createAgent(config, { ...FAST, dataDir, api: false });
}

beforeAll(async () => {
  hub = await startHub({ dataDir: tmpDir('ef-hub-'), http: '127.0.0.1:0', mqtt: '127.0.0.1:0', log: () => {} });
  api = hubApi(hub);
  const added = await api.post('/devices', { id: 'dev-batch' });
  expect(added.status, JSON.stringify(added.body)).toBe(201);
  batchDir = tmpDir('ef-batch-files-');
  config = { ...added.body.agentConfig, batchDir };
  dataDir = tmpDir();
  configFile = path.join(tmpDir('ef-batch-cfg-'), 'agent.json');
  fs.writeFileSync(configFile, JSON.stringify(config));
  expect((await api.push(classifier(1, 8), 'm', '1.0.0', { labels: JSON.stringify(LABELS) })).status).toBe(201);
  expect((await api.post('/rollouts', { model: 'm', version: '1.0.0', targets: { devices: ['dev-batch'] } })).status).toBe(201);
  const agent = startAgent();
  await agent.start();
  try {
    await agent.core.waitFor(() => agent.core.slots().m?.active?.version === '1.0.0', 60_000);
    const all = floats(ROWS * FEATURES, 7);
    for (let i = 0; i < ROWS; i++) {
      const row = Float32Array.from(all.subarray(i * FEATURES, (i + 1) * FEATURES));
      x.push(Array.from(row));
      const r = await agent.infer('m', { features: { type: 'float32', dims: [1, FEATURES], data: row } });
      expected.push({ probabilities: Array.from(r.outputs.probabilities!.data as Float32Array), label: Array.from(r.outputs.label!.data as BigInt64Array, Number) });
    }
    await agent.core.flushTelemetry();
    await until(async () => (await inferencesAtHub()) === ROWS, 60_000, 'the live inferences at the hub');
  } finally {
    await agent.stop();
  }
}, 180_000);

afterAll(async () => {
  await hub?.close();
});

describe.skipIf(!agentBuilt())('edgefleet-agent batch (offline)', () => {
  it('JSONL in (OIP requests and nested rows) → JSONL out equal to agent.infer for the same rows', async () => {
    const dir = tmpDir('ef-batch-');
    fs.writeFileSync(path.join(dir, 'in.jsonl'), jsonlRows());
    const r = await runBin(['--model', 'm', '--in', path.join(dir, 'in.jsonl'), '--out', path.join(dir, 'out.jsonl')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`batch m@1\\.0\\.0: ${ROWS} rows, 0 failed, \\d+ rows/s classes `));
    const out = readJsonl(path.join(dir, 'out.jsonl'));
    expect(out.map((o) => o.row)).toEqual(x.map((_, i) => i + 1));
    for (let i = 0; i < ROWS; i++) {
      expect(out[i].model_version).toBe('1.0.0');
      expect(outputOf(out[i], 'probabilities')).toEqual(expected[i]!.probabilities);
      expect(outputOf(out[i], 'label')).toEqual(expected[i]!.label);
    }
  }, 60_000);

  it('CSV in → CSV out, same answers; a bad row is reported with its line number, counted, and the exit code is 1', async () => {
    const dir = tmpDir('ef-batch-');
    const lines = ['f0,f1,f2,f3', ...x.map((r) => r.join(','))];
    lines.splice(3, 0, '1,2,oops,4'); // line 4
    fs.writeFileSync(path.join(dir, 'in.csv'), lines.join('\n') + '\n');
    const r = await runBin(['--model', 'm', '--in', path.join(dir, 'in.csv'), '--out', path.join(dir, 'out.csv')]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('in.csv:4: BAD_INPUT: column 3 is not a number');
    expect(r.stderr).toContain(`${ROWS + 1} rows, 1 failed`);
    const csv = fs.readFileSync(path.join(dir, 'out.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
    expect(csv[0]).toEqual(['row', 'probabilities_0', 'probabilities_1', 'probabilities_2', 'label', 'error']);
    const good = csv.slice(1).filter((c) => c.at(-1) === '');
    expect(good).toHaveLength(ROWS);
    for (let i = 0; i < ROWS; i++) {
      expect(good[i]!.slice(1, 4).map(Number)).toEqual(expected[i]!.probabilities);
      expect(Number(good[i]![4])).toBe(expected[i]!.label[0]);
    }
    expect(fs.readFileSync(path.join(dir, 'out.csv'), 'utf8').split('\n').find((l) => l.startsWith('4,'))).toContain('BAD_INPUT: column 3 is not a number');
  }, 60_000);

  it('--strict stops at the first bad row and writes nothing', async () => {
    const dir = tmpDir('ef-batch-');
    fs.writeFileSync(path.join(dir, 'in.jsonl'), `${JSON.stringify({ input: x[0] })}\n{"input": [1, 2]}\n${JSON.stringify({ input: x[1] })}\n`);
    const r = await runBin(['--model', 'm', '--in', path.join(dir, 'in.jsonl'), '--out', path.join(dir, 'out.jsonl'), '--strict']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('in.jsonl:2: BAD_INPUT');
    expect(fs.readdirSync(dir)).toEqual(['in.jsonl']);
  }, 60_000);

  it('no verified model of that name, or a tampered artifact on disk: exit 2 and nothing written', async () => {
    const dir = tmpDir('ef-batch-');
    fs.writeFileSync(path.join(dir, 'in.jsonl'), jsonlRows());
    const none = await runBin(['--model', 'other', '--in', path.join(dir, 'in.jsonl'), '--out', path.join(dir, 'out.jsonl')]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('NOT_FOUND');

    // a copy of the data dir whose model file lost a byte
    const copy = tmpDir('ef-batch-tampered-');
    fs.cpSync(dataDir, copy, { recursive: true });
    const models = path.join(copy, 'models');
    const file = path.join(models, fs.readdirSync(models).find((f) => /^[0-9a-f]{64}\.onnx$/.test(f))!);
    const bytes = fs.readFileSync(file);
    bytes[bytes.length >> 1]! ^= 0xff;
    fs.writeFileSync(file, bytes);
    const child = spawn(process.execPath, [AGENT_BIN, 'batch', '--config', configFile, '--data', copy, '--model', 'm', '--in', path.join(dir, 'in.jsonl'), '--out', path.join(dir, 'out.jsonl')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise((r) => child.on('exit', r));
    expect(code).toBe(2);
    expect(stderr).toContain('HASH_MISMATCH');
    expect(fs.readdirSync(dir)).toEqual(['in.jsonl']);
  }, 60_000);

  it('with the daemon holding the data dir: exit 2 with CONFLICT; signed batch commands run in it and report; batch telemetry reaches the hub', async () => {
    const agent = startAgent();
    await agent.start();
    try {
      await agent.core.waitFor((c) => c.slots().m?.active?.version === '1.0.0', 30_000);
      const dir = tmpDir('ef-batch-');
      fs.writeFileSync(path.join(dir, 'in.jsonl'), jsonlRows());
      const r = await runBin(['--model', 'm', '--in', path.join(dir, 'in.jsonl'), '--out', path.join(dir, 'out.jsonl')]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('CONFLICT');
      expect(fs.readdirSync(dir)).toEqual(['in.jsonl']);

      // the offline runs above (6 + 6 good rows) were kept in the outbox and go out now the daemon runs
      await agent.core.flushTelemetry();
      await until(async () => (await inferencesAtHub()) === 3 * ROWS + 1, 60_000, 'the batch inferences at the hub');

      // a signed batch command over a file in the device's batch directory
      fs.writeFileSync(path.join(batchDir, 'rows.jsonl'), jsonlRows());
      const sent = await api.post('/devices/dev-batch/commands', { action: 'batch', model: 'm', path: 'rows.jsonl' });
      expect(sent.status, JSON.stringify(sent.body)).toBe(202);
      await until(async () => (await events()).some((e) => e.type === 'batch-finished'), 60_000, 'batch-finished at the hub');
      const done = (await events()).find((e) => e.type === 'batch-finished')!;
      expect(done.message).toMatch(new RegExp(`^batch m@1\\.0\\.0: ${ROWS} rows, 0 failed, \\d+ rows/s classes .* → rows\\.jsonl\\.out\\.jsonl$`));
      const classes = Object.fromEntries([...done.message.matchAll(/ (\w+)=(\d+)/g)].map((m) => [m[1], Number(m[2])]));
      const want: Record<string, number> = {};
      for (const e of expected) want[LABELS[e.label[0]!]!] = (want[LABELS[e.label[0]!]!] ?? 0) + 1;
      expect(classes).toEqual(want);
      const out = readJsonl(path.join(batchDir, 'rows.jsonl.out.jsonl'));
      for (let i = 0; i < ROWS; i++) expect(outputOf(out[i], 'probabilities')).toEqual(expected[i]!.probabilities);

      // escaping paths are refused by the device with a code (the hub signs what its operator asked for)
      const secret = path.join(path.dirname(batchDir), `secret-${path.basename(batchDir)}.jsonl`);
      fs.writeFileSync(secret, jsonlRows());
      for (const p of [`../${path.basename(secret)}`, secret]) {
        expect((await api.post('/devices/dev-batch/commands', { action: 'batch', model: 'm', path: p })).status).toBe(202);
      }
      await until(async () => (await events()).filter((e) => e.type === 'error' && e.code === 'FORBIDDEN').length === 2, 60_000, 'two FORBIDDEN refusals');
      expect(fs.existsSync(`${secret}.out.jsonl`)).toBe(false);

      // a command not signed by the director is refused before anything runs
      const forged = signDocument('command', { kind: 'command', deviceId: 'dev-batch', sequence: 1_000_000, issuedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 60_000).toISOString(), action: 'batch', model: 'm', path: 'forged.jsonl' }, [generateKeyPair(new Uint8Array(32).fill(77))]);
      fs.writeFileSync(path.join(batchDir, 'forged.jsonl'), jsonlRows());
      await hub.services.ctx.bus.publish(topics.command('dev-batch'), JSON.stringify(forged), { qos: 1, retain: false });
      await until(async () => (await events()).some((e) => e.type === 'verification-failed' && e.code === 'UNKNOWN_KEY'), 60_000, 'the forged command refused');
      expect(fs.existsSync(path.join(batchDir, 'forged.jsonl.out.jsonl'))).toBe(false);
      expect((await events()).filter((e) => e.type === 'batch-finished')).toHaveLength(1);

      // the hub checks the body too: a batch without a file is refused there
      expect((await api.post('/devices/dev-batch/commands', { action: 'batch', model: 'm' })).status).toBe(400);
    } finally {
      await agent.stop();
    }
  }, 180_000);
});
