// The agent against a real publisher (aedes + protocol signer), real onnxruntime and real SQLite:
// verified activation, switching, refusals, corrupted chunks, self-test failures and probation rollback.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { signDocument, generateKeyPair, topics, EdgefleetError } from '@edgefleet/protocol';
import { createAgent, type Agent } from '@edgefleet/agent';
import { createOnnxRuntime } from '../src/node/onnx-runtime.js';
import type { InferenceRuntime, ModelSession } from '../src/core/runtime.js';
import { bareRun, classifier, floats, FEATURES, startHarness, type Harness } from './support/fleet-harness.js';

let h: Harness;
const agents: Agent[] = [];

const FAST = {
  core: { retry: { baseMs: 100, maxMs: 1000 }, download: { timeoutMs: 300 } },
  reconnect: { initialMs: 50, maxMs: 500 },
};

function start(deviceId: string, extra: Parameters<typeof createAgent>[1] = {}): Agent {
  const agent = createAgent(h.agentConfig(deviceId), { ...FAST, ...(process.env.AGENT_LOG ? { log: (l: string) => console.log(deviceId, l) } : {}), ...extra });
  agents.push(agent);
  return agent;
}

const activeVersion = (a: Agent, model = 'm'): string | undefined => a.core.slots()[model]?.active?.version;

async function inferHttp(agent: Agent, x: Float32Array, rows: number): Promise<{ model_version: string; id: string; outputs: { name: string; data: number[] }[] }> {
  const res = await fetch(`${agent.apiUrl}/v2/models/m/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: [{ name: 'features', shape: [rows, FEATURES], datatype: 'FP32', data: Array.from(x) }] }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as never;
}

beforeEach(async () => {
  h = await startHarness();
  await h.publishKeyring();
});

afterEach(async () => {
  for (const a of agents.splice(0)) await a.stop();
  await h.close();
});

describe('agent updates through a real broker', () => {
  it('activates a signed model, serves it like bare onnxruntime, then switches to v2', async () => {
    const v1 = classifier(1, 8);
    const v2 = classifier(2, 8);
    const m1 = await h.manifest({ name: 'm', version: '1.0.0', release: 1, bytes: v1, chunkSize: 1024 });
    const agent = start('dev-a');
    await agent.start();
    await h.desired('dev-a', [{ envelope: m1.envelope }]);
    await agent.core.waitFor(() => activeVersion(agent) === '1.0.0');

    const x = floats(3 * FEATURES, 7);
    const bare1 = await bareRun(v1, x, 3);
    const r1 = await inferHttp(agent, x, 3);
    expect(r1.model_version).toBe('1.0.0');
    expect(r1.id).toBeTruthy();
    expect(r1.outputs.find((o) => o.name === 'probabilities')!.data).toEqual(Array.from(bare1.probabilities));
    expect(r1.outputs.find((o) => o.name === 'label')!.data).toEqual(Array.from(bare1.label, Number));

    const m2 = await h.manifest({ name: 'm', version: '2.0.0', release: 2, bytes: v2, chunkSize: 1024 });
    await h.desired('dev-a', [{ envelope: m2.envelope }], { telemetry: { probationSeconds: 0 } });
    await agent.core.waitFor(() => activeVersion(agent) === '2.0.0');
    const bare2 = await bareRun(v2, x, 3);
    const r2 = await agent.infer('m', { features: { type: 'float32', dims: [3, FEATURES], data: x } });
    expect(r2.version).toBe('2.0.0');
    expect(Array.from(r2.outputs.probabilities!.data as Float32Array)).toEqual(Array.from(bare2.probabilities));
    expect(agent.core.slots().m!.previous?.version).toBe('1.0.0');

    // reported state (retained) and activation events reached the broker
    await agent.core.waitFor(() => h.events('dev-a').filter((e) => e.type === 'activated').length === 2);
    const lastReported = (): { models: Record<string, { active: { version: string } | null }> } | undefined =>
      h.published.filter((p) => p.topic === topics.reported('dev-a')).map((p) => JSON.parse(p.payload.toString())).at(-1);
    await agent.core.waitFor(() => lastReported()?.models.m?.active?.version === '2.0.0');
    expect(h.published.some((p) => p.topic === topics.status('dev-a') && p.payload.toString() === 'online' && p.retain)).toBe(true);
  });

  it('refuses stranger-signed, replayed, other-device, expired and below-floor desired states and keeps the model', async () => {
    const m1 = await h.manifest({ name: 'm', version: '1.0.0', release: 5, bytes: classifier(1) });
    const m2 = await h.manifest({ name: 'm', version: '2.0.0', release: 6, bytes: classifier(2) });
    const agent = start('dev-b');
    await agent.start();
    const applied = await h.desired('dev-b', [{ envelope: m1.envelope }]);
    await agent.core.waitFor(() => activeVersion(agent, 'm') === '1.0.0');
    const codes = (): (string | undefined)[] => h.events('dev-b').filter((e) => e.type === 'verification-failed').map((e) => e.code);

    // 1. signed by a key the keyring does not know
    const stranger = generateKeyPair(new Uint8Array(32).fill(9));
    await h.desired('dev-b', [{ envelope: m2.envelope }], { signers: [stranger] });
    await agent.core.waitFor(() => codes().length === 1);
    expect(codes()[0]).toBe('UNKNOWN_KEY');

    // 2. a replay of an older desired state (valid signature, old sequence) after a newer one was applied
    const newer = await h.desired('dev-b', [{ envelope: m1.envelope }], { sequence: applied.sequence + 5 });
    await agent.core.waitFor(() => agent.core.reported().desiredSequence === newer.sequence);
    await h.publishRaw(topics.desired('dev-b'), applied.raw);
    await agent.core.waitFor(() => codes().length === 2);
    expect(codes()[1]).toBe('REPLAYED_SEQUENCE');

    // 3. another device's desired state published on this device's topic
    const other = signDocument(
      'desired-state',
      { kind: 'desired-state', deviceId: 'dev-other', sequence: 100, issuedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 60_000).toISOString(), models: [{ manifest: m2.envelope, role: 'active' }] },
      [h.director],
    );
    await h.publishRaw(topics.desired('dev-b'), JSON.stringify(other));
    await agent.core.waitFor(() => codes().length === 3);
    expect(codes()[2]).toBe('WRONG_DEVICE');

    // 4. an expired desired state (valid signature, newer sequence)
    await h.desired('dev-b', [{ envelope: m2.envelope }], { sequence: newer.sequence + 1, expiresInMs: -60_000 });
    await agent.core.waitFor(() => codes().length === 4);
    expect(codes()[3]).toBe('EXPIRED');

    // 5. a manifest below the keyring's release floor
    await h.publishKeyring({ version: 2, releaseFloors: { m: 7 } });
    await h.desired('dev-b', [{ envelope: m2.envelope }], { sequence: newer.sequence + 2 });
    await agent.core.waitFor(() => codes().length === 5);
    expect(codes()[4]).toBe('BELOW_RELEASE_FLOOR');

    expect(activeVersion(agent)).toBe('1.0.0');
    const r = await agent.infer('m', { features: { type: 'float32', dims: [1, FEATURES], data: floats(FEATURES, 3) } });
    expect(r.version).toBe('1.0.0');
    expect(agent.core.reported().models.m?.error?.code).toBe('BELOW_RELEASE_FLOOR');
  });

  it('discards an artifact with a corrupted chunk (HASH_MISMATCH), activates nothing, and retries', async () => {
    const m1 = await h.manifest({ name: 'm', version: '1.0.0', release: 1, bytes: classifier(1, 64), chunkSize: 1024 });
    h.corruptOnce.set(m1.sha256, new Set([1]));
    const agent = start('dev-c');
    await agent.start();
    await h.desired('dev-c', [{ envelope: m1.envelope }]);
    await agent.core.waitFor(() => h.events('dev-c').some((e) => e.code === 'HASH_MISMATCH'));
    expect(h.events('dev-c').some((e) => e.type === 'activated')).toBe(false);
    await agent.core.waitFor(() => activeVersion(agent) === '1.0.0');
    const x = floats(FEATURES, 5);
    const bare = await bareRun(classifier(1, 64), x, 1);
    const r = await agent.infer('m', { features: { type: 'float32', dims: [1, FEATURES], data: x } });
    expect(Array.from(r.outputs.probabilities!.data as Float32Array)).toEqual(Array.from(bare.probabilities));
  });

  it('verifies chunks that arrive out of order, hashed in order as the gaps fill or read back from the file, and refuses a corrupted one either way', async () => {
    const bytes = classifier(3, 512);
    const m1 = await h.manifest({ name: 'm', version: '1.0.0', release: 1, bytes, chunkSize: 1024 });
    expect(m1.manifest.artifact.size).toBeGreaterThan(8 * 1024); // several chunks, answered last first
    h.reverseChunks = true;
    const logs: Record<string, string[]> = { 'dev-held': [], 'dev-readback': [] };
    const log = (id: string) => (line: string) => logs[id]!.push(line);
    const held = start('dev-held', { log: log('dev-held') });
    // holding at most one chunk: the reversed frames overflow it and the file is hashed after the download
    const readback = start('dev-readback', { ...FAST, core: { ...FAST.core, download: { ...FAST.core.download, holdBytes: 1024 } }, log: log('dev-readback') });
    for (const [id, agent] of [['dev-held', held], ['dev-readback', readback]] as const) {
      h.corruptOnce.set(m1.sha256, new Set([3]));
      await agent.start();
      await h.desired(id, [{ envelope: m1.envelope }]);
      await agent.core.waitFor(() => h.events(id).some((e) => e.code === 'HASH_MISMATCH'));
      await agent.core.waitFor(() => activeVersion(agent) === '1.0.0');
      const file = readFileSync(join(agent.dataDir, 'models', `${m1.sha256}.onnx`));
      expect(Buffer.compare(file, Buffer.from(bytes))).toBe(0);
    }
    const fromFile = (id: string) => logs[id]!.some((l) => l.includes('from the file'));
    expect(fromFile('dev-held')).toBe(false);
    expect(fromFile('dev-readback')).toBe(true);
  });

  it('never activates a model that fails its self-test and keeps serving the running one', async () => {
    const m1 = await h.manifest({ name: 'm', version: '1.0.0', release: 1, bytes: classifier(1) });
    const bad = await h.manifest({ name: 'm', version: '2.0.0', release: 2, bytes: classifier(2), breakSelfTest: true });
    const agent = start('dev-d');
    await agent.start();
    await h.desired('dev-d', [{ envelope: m1.envelope }]);
    await agent.core.waitFor(() => activeVersion(agent) === '1.0.0');
    await h.desired('dev-d', [{ envelope: bad.envelope }]);
    await agent.core.waitFor(() => h.events('dev-d').some((e) => e.type === 'self-test-failed'));
    expect(h.events('dev-d').find((e) => e.type === 'self-test-failed')?.code).toBe('SELF_TEST_FAILED');
    expect(activeVersion(agent)).toBe('1.0.0');
    expect(agent.core.slots().m!.error?.code).toBe('SELF_TEST_FAILED');
    expect(agent.core.slots().m!.state).toBe('failed');
    const r = await agent.infer('m', { features: { type: 'float32', dims: [1, FEATURES], data: floats(FEATURES, 1) } });
    expect(r.version).toBe('1.0.0');
  });

  it('rolls a model that starts failing after activation back during probation, and does not retry it', async () => {
    // Fault injection: sessions of v2 start throwing once `failing` is set (after the self-test passed).
    let failing = false;
    const ort = createOnnxRuntime();
    const v2bytes = classifier(2);
    const runtime: InferenceRuntime = {
      name: ort.name,
      async load(bytes) {
        const s = await ort.load(bytes);
        const isV2 = bytes.length === v2bytes.length && bytes.every((b, i) => b === v2bytes[i]);
        if (!isV2) return s;
        const wrapped: ModelSession = {
          inputs: s.inputs,
          outputs: s.outputs,
          run: (feeds, names) => (failing ? Promise.reject(new EdgefleetError('INFERENCE_FAILED', 'injected fault')) : s.run(feeds, names)),
          release: () => s.release(),
        };
        return wrapped;
      },
    };
    const m1 = await h.manifest({ name: 'm', version: '1.0.0', release: 1, bytes: classifier(1) });
    const m2 = await h.manifest({ name: 'm', version: '2.0.0', release: 2, bytes: v2bytes });
    const agent = start('dev-e', { runtime });
    await agent.start();
    await h.desired('dev-e', [{ envelope: m1.envelope }]);
    await agent.core.waitFor(() => activeVersion(agent) === '1.0.0');
    const settings = { probationSeconds: 300, probationMinInferences: 10, probationMaxErrorRate: 0.2 };
    await h.desired('dev-e', [{ envelope: m2.envelope }], { telemetry: settings });
    await agent.core.waitFor(() => activeVersion(agent) === '2.0.0');
    expect(agent.core.slots().m!.state).toBe('probation');

    failing = true;
    const feeds = { features: { type: 'float32' as const, dims: [1, FEATURES], data: floats(FEATURES, 2) } };
    for (let i = 0; i < 10; i++) await agent.infer('m', feeds).catch(() => {});
    await agent.core.waitFor(() => activeVersion(agent) === '1.0.0');
    const slot = agent.core.slots().m!;
    expect(slot.state).toBe('rolled-back');
    expect(slot.error?.code).toBe('PROBATION_FAILED');
    await agent.core.waitFor(() => h.events('dev-e').some((e) => e.type === 'rolled-back'));
    const r = await agent.infer('m', feeds);
    expect(r.version).toBe('1.0.0');

    // the same desired state re-delivered (resync re-subscribes: the retained copy comes again) does not bring v2 back
    const subscribes = h.published.length;
    await h.command('dev-e', 'resync');
    await agent.core.waitFor(() => h.published.slice(subscribes).some((p) => p.topic === topics.reported('dev-e')));
    await new Promise((r2) => setTimeout(r2, 300));
    expect(activeVersion(agent)).toBe('1.0.0');
    expect(h.events('dev-e').filter((e) => e.type === 'activated').length).toBe(2);
  });

  it('obeys director-signed commands: rollback returns to the previous version, a replayed command is refused', async () => {
    const m1 = await h.manifest({ name: 'm', version: '1.0.0', release: 1, bytes: classifier(1) });
    const m2 = await h.manifest({ name: 'm', version: '2.0.0', release: 2, bytes: classifier(2) });
    const agent = start('dev-cmd');
    await agent.start();
    await h.desired('dev-cmd', [{ envelope: m1.envelope }]);
    await agent.core.waitFor(() => activeVersion(agent) === '1.0.0');
    await h.desired('dev-cmd', [{ envelope: m2.envelope }], { telemetry: { probationSeconds: 0 } });
    await agent.core.waitFor(() => activeVersion(agent) === '2.0.0');
    await h.command('dev-cmd', 'rollback', { model: 'm', sequence: 1 });
    await agent.core.waitFor(() => activeVersion(agent) === '1.0.0');
    expect(agent.core.slots().m!.state).toBe('rolled-back');
    await h.command('dev-cmd', 'flush-telemetry', { sequence: 1 }); // replay of sequence 1
    await agent.core.waitFor(() => h.events('dev-cmd').some((e) => e.code === 'REPLAYED_SEQUENCE'));
    expect(activeVersion(agent)).toBe('1.0.0');
  });

  it('refuses to download into a full disk (DISK_FULL) and keeps the running model', async () => {
    const m1 = await h.manifest({ name: 'm', version: '1.0.0', release: 1, bytes: classifier(1) });
    const agent = start('dev-full', { core: { ...FAST.core, retry: { ...FAST.core.retry, diskPollMs: 50 } } });
    await agent.start();
    await h.desired('dev-full', [{ envelope: m1.envelope }]);
    await agent.core.waitFor(() => activeVersion(agent) === '1.0.0');
    // a model bigger than the free space of the data dir's filesystem
    const huge = await h.manifest({ name: 'm', version: '2.0.0', release: 2, bytes: classifier(2) });
    const fs = await import('node:fs');
    const free = await fs.promises.statfs(agent.dataDir);
    const lying = { ...huge.manifest, artifact: { ...huge.manifest.artifact, size: Number(free.bavail) * Number(free.bsize) + 1 } };
    const { signDocument } = await import('@edgefleet/protocol');
    await h.desired('dev-full', [{ envelope: signDocument('model-manifest', lying, [h.release]) }]);
    await agent.core.waitFor(() => h.events('dev-full').some((e) => e.code === 'DISK_FULL'));
    // free space is checked again and again (the disk may free up); meanwhile the slot keeps reporting why,
    // and nothing is fetched or re-attempted into a disk that has no room
    await new Promise((r) => setTimeout(r, 500));
    expect(h.events('dev-full').filter((e) => e.code === 'DISK_FULL')).toHaveLength(1);
    expect(activeVersion(agent)).toBe('1.0.0');
    expect(agent.core.slots().m!.error?.code).toBe('DISK_FULL');
    expect(h.published.some((p) => p.topic === topics.artifactGet('dev-full') && p.payload.toString().includes(huge.sha256))).toBe(false);
  });

  it('drops a download superseded by a newer desired state and installs the newer model', async () => {
    const m1 = await h.manifest({ name: 'm', version: '1.0.0', release: 1, bytes: classifier(1) });
    const slow = await h.manifest({ name: 'm', version: '2.0.0', release: 2, bytes: classifier(2, 2000), chunkSize: 1024 });
    const m3 = await h.manifest({ name: 'm', version: '3.0.0', release: 3, bytes: classifier(3) });
    const agent = start('dev-sup');
    await agent.start();
    await h.desired('dev-sup', [{ envelope: m1.envelope }]);
    await agent.core.waitFor(() => activeVersion(agent) === '1.0.0');
    h.chunkDelayMs = 20;
    await h.desired('dev-sup', [{ envelope: slow.envelope }]);
    await agent.core.waitFor(() => (agent.core.slots().m?.progress ?? 0) > 0 && agent.core.slots().m?.pending?.version === '2.0.0');
    h.chunkDelayMs = 0;
    await h.desired('dev-sup', [{ envelope: m3.envelope }], { telemetry: { probationSeconds: 0 } });
    await agent.core.waitFor(() => activeVersion(agent) === '3.0.0');
    expect(agent.core.slots().m!.previous?.version).toBe('1.0.0');
    await agent.core.waitFor(() => h.events('dev-sup').filter((e) => e.type === 'activated').length === 2);
    expect(h.events('dev-sup').some((e) => e.type === 'download-failed')).toBe(false);
    expect(h.events('dev-sup').filter((e) => e.type === 'activated').map((e) => e.version)).toEqual(['1.0.0', '3.0.0']);
    // the abandoned download's partial file is gone with it; the two versions the slot names stay
    const files = readdirSync(join(agent.dataDir, 'models')).sort();
    expect(files.filter((f) => f.endsWith('.part'))).toEqual([]);
    expect(files).toEqual([`${m1.sha256}.onnx`, `${m3.sha256}.onnx`].sort());
  });

  it('refuses a second agent on the same data dir (CONFLICT) and frees it on stop', async () => {
    const config = h.agentConfig('dev-lock');
    const one = createAgent(config, { ...FAST });
    agents.push(one);
    await one.start();
    const two = createAgent(config, { ...FAST });
    await expect(two.start()).rejects.toMatchObject({ code: 'CONFLICT' });
    await one.stop();
    await two.start();
    agents.push(two);
  });
});
