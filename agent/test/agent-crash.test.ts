// Crash safety (design §5 "Crash at any point: on restart the agent runs either the old or the new model,
// never a partial one"): the built `edgefleet-agent` bin runs as a child process and is killed with
// SIGKILL at seeded random points during a slowed-down download and activation, then restarted.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { topics } from '@edgefleet/protocol';
import { createRng } from '@edgefleet/protocol/testing';
import { bareRun, classifier, floats, FEATURES, startHarness, tmpDir, type Harness } from './support/fleet-harness.js';

const BIN = fileURLToPath(new URL('../bin/edgefleet-agent.js', import.meta.url));
const DIST = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

let h: Harness;
const children: ChildProcess[] = [];

/** Start the agent bin; resolves with its local API URL once it printed its start line. */
function startChild(configFile: string, dataDir: string): Promise<{ child: ChildProcess; api: string }> {
  const child = spawn(process.execPath, [BIN, '--config', configFile, '--data', dataDir, '--api', '127.0.0.1:0', '--quiet'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /api=(http:\/\/\S+)/.exec(out);
      if (m) resolve({ child, api: m[1]! });
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => reject(new Error(`agent exited (${code}) before it started: ${err}`)));
  });
}

async function kill9(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await gone;
}

async function infer(api: string, x: Float32Array): Promise<{ model_version: string; outputs: { name: string; data: number[] }[] }> {
  const res = await fetch(`${api}/v2/models/m/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: [{ name: 'features', shape: [1, FEATURES], datatype: 'FP32', data: Array.from(x) }] }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as never;
}

function lastReported(deviceId: string): { models: Record<string, { active: { version: string } | null; state: string; progress?: number }> } | undefined {
  const r = h.published.filter((p) => p.topic === topics.reported(deviceId)).at(-1);
  return r ? JSON.parse(r.payload.toString()) : undefined;
}

async function until(pred: () => boolean, ms = 30_000): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeEach(async () => {
  h = await startHarness();
  await h.publishKeyring();
});

afterEach(async () => {
  for (const c of children.splice(0)) await kill9(c);
  await h.close();
});

describe('agent crash safety (child process, SIGKILL)', () => {
  it.skipIf(!fs.existsSync(DIST))('serves a whole model after each of 20 kill -9 during download and activation, then finishes the update', async () => {
    const rng = createRng(20261126);
    const deviceId = 'dev-crash';
    const dataDir = tmpDir();
    const cfgFile = path.join(tmpDir(), 'agent.json');
    fs.writeFileSync(cfgFile, JSON.stringify(h.agentConfig(deviceId, { dataDir })));

    const v1 = classifier(1);
    const v2 = classifier(2, 3000); // ≈ 84 KB: 1 KiB chunks, slowed below, so kills land mid-download
    const x = floats(FEATURES, 11);
    const bare: Record<string, Awaited<ReturnType<typeof bareRun>>> = { '1.0.0': await bareRun(v1, x, 1), '2.0.0': await bareRun(v2, x, 1) };
    const m1 = await h.manifest({ name: 'm', version: '1.0.0', release: 1, bytes: v1 });
    const m2 = await h.manifest({ name: 'm', version: '2.0.0', release: 2, bytes: v2, chunkSize: 1024 });
    const chunkCount = Math.ceil(v2.length / 1024);

    let { child, api } = await startChild(cfgFile, dataDir);
    await h.desired(deviceId, [{ envelope: m1.envelope }]);
    await until(() => lastReported(deviceId)?.models.m?.active?.version === '1.0.0');
    await kill9(child);

    h.chunkDelayMs = 5;
    // probation off: these kills are the test's doing, not a crash loop of the new version
    await h.desired(deviceId, [{ envelope: m2.envelope }], { telemetry: { probationSeconds: 0 } });
    const seen = new Set<string>();
    let latest = '2.0.0';
    for (let i = 0; i < 20; i++) {
      ({ child, api } = await startChild(cfgFile, dataDir));
      // Offline first: a whole model answers as soon as the agent is up, before any network.
      const r = await infer(api, x);
      const version = r.model_version;
      seen.add(version);
      if (process.env.AGENT_LOG) console.log(i, version, h.framesSent, lastReported(deviceId)?.models.m?.state);
      expect(Object.keys(bare)).toContain(version);
      expect(r.outputs.find((o) => o.name === 'probabilities')!.data).toEqual(Array.from(bare[version]!.probabilities));
      if (i < 15) {
        // during the download: after 1–8 more chunks arrived (or a moment, once there is nothing left to send)
        const target = h.framesSent + 1 + Math.floor(rng() * 8);
        await until(() => h.framesSent >= target || lastReported(deviceId)?.models.m?.active?.version === '2.0.0', 5000).catch(() => {});
        await new Promise((res) => setTimeout(res, rng() * 10));
      } else {
        // around verification, self-test and activation: once v2 is in, each run gets a newer small version
        const activeNow = lastReported(deviceId)?.models.m?.active?.version;
        if (activeNow !== undefined && activeNow === latest) {
          const bytes = classifier(100 + i, 1000);
          latest = `3.0.${i}`;
          bare[latest] = await bareRun(bytes, x, 1);
          const m = await h.manifest({ name: 'm', version: latest, release: 3 + i, bytes, chunkSize: 4096 });
          await h.desired(deviceId, [{ envelope: m.envelope }], { telemetry: { probationSeconds: 0 } });
        }
        // every chunk is in (reported progress 1): the agent now verifies, self-tests, warms up and swaps
        await until(() => {
          const m = lastReported(deviceId)?.models.m;
          return (m?.progress ?? 0) >= 1 || m?.active?.version === latest;
        }, 10_000).catch(() => {});
        await new Promise((res) => setTimeout(res, rng() * 25));
      }
      await kill9(child);
    }

    h.chunkDelayMs = 0;
    ({ child, api } = await startChild(cfgFile, dataDir));
    await until(() => lastReported(deviceId)?.models.m?.active?.version === latest);
    const r = await infer(api, x);
    expect(r.model_version).toBe(latest);
    expect(r.outputs.find((o) => o.name === 'probabilities')!.data).toEqual(Array.from(bare[latest]!.probabilities));
    expect(seen.has('1.0.0') && seen.has('2.0.0')).toBe(true);

    // resumed, not restarted: chunks requested over all runs stay well under one full download per run
    const requested = h.published
      .filter((p) => p.topic === topics.artifactGet(deviceId))
      .map((p) => JSON.parse(p.payload.toString()) as { sha256: string; chunks: number[] })
      .filter((q) => q.sha256 === m2.sha256)
      .reduce((n, q) => n + q.chunks.length, 0);
    expect(requested).toBeLessThan(chunkCount * 6);
    // nothing partial is left behind once the update finished
    expect(fs.readdirSync(path.join(dataDir, 'models')).filter((f) => f.endsWith('.part'))).toEqual([]);
  }, 150_000);

  it.skipIf(!fs.existsSync(DIST))('rolls back by itself after a crash loop of three unclean restarts during probation', async () => {
    const deviceId = 'dev-loop';
    const dataDir = tmpDir();
    const cfgFile = path.join(tmpDir(), 'agent.json');
    fs.writeFileSync(cfgFile, JSON.stringify(h.agentConfig(deviceId, { dataDir })));
    const m1 = await h.manifest({ name: 'm', version: '1.0.0', release: 1, bytes: classifier(1) });
    const m2 = await h.manifest({ name: 'm', version: '2.0.0', release: 2, bytes: classifier(2) });
    let { child, api } = await startChild(cfgFile, dataDir);
    await h.desired(deviceId, [{ envelope: m1.envelope }]);
    await until(() => lastReported(deviceId)?.models.m?.active?.version === '1.0.0');
    await h.desired(deviceId, [{ envelope: m2.envelope }], { telemetry: { probationSeconds: 600 } });
    await until(() => lastReported(deviceId)?.models.m?.state === 'probation');
    for (let i = 0; i < 3; i++) {
      await kill9(child);
      ({ child, api } = await startChild(cfgFile, dataDir));
    }
    const x = floats(FEATURES, 4);
    const r = await infer(api, x);
    expect(r.model_version).toBe('1.0.0');
    await until(() => lastReported(deviceId)?.models.m?.state === 'rolled-back');
    await until(() => h.events(deviceId).some((e) => e.type === 'rolled-back'));
    const events = h.events(deviceId).filter((e) => e.type === 'rolled-back');
    expect(events.at(-1)?.code).toBe('PROBATION_FAILED');
    expect(events.at(-1)?.message).toMatch(/crash loop/);
    // the retained desired state still names 2.0.0: it is not retried until a newer desired state
    await new Promise((res) => setTimeout(res, 500));
    expect((await infer(api, x)).model_version).toBe('1.0.0');
  }, 60_000);
});
