// A full disk (design §5 "Offline first", "check free disk"): the built agent bin runs with its data dir on
// a small tmpfs, a real hub rolls out a 16 MiB model, and a filler file takes the last free byte mid-download.
// The agent stays up and serves the verified model it has, reports DISK_FULL, starts again with the disk
// still full, and once the filler is gone resumes the download by itself, fetching only what is missing.
// Mounting a tmpfs needs root: the test is skipped otherwise.

import { execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startHub, type Hub } from '@edgefleet/hub';
import { openSqliteStore } from '../src/node/sqlite-store.js';
import { agentBuilt, alive, kill9, startAgentChild, until } from './support/agent-process.js';
import { bareRun, classifier, floats, FEATURES, tmpDir } from './support/fleet-harness.js';
import { hubApi } from './support/hub-api.js';

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('agent-disk-full.test.ts skipped: mounting a tmpfs for the full-disk test needs root');

const hubs: Hub[] = [];
const children: ChildProcess[] = [];
const mounts: string[] = [];

afterEach(async () => {
  for (const c of children.splice(0)) await kill9(c);
  for (const h of hubs.splice(0)) await h.close();
  for (const m of mounts.splice(0)) {
    execFileSync('umount', ['-l', m]);
    fs.rmSync(m, { recursive: true, force: true });
  }
});


async function infer(api: string, x: Float32Array): Promise<{ model_version: string; outputs: { name: string; data: number[] }[] }> {
  const res = await fetch(`${api}/v2/models/m/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: [{ name: 'features', shape: [1, FEATURES], datatype: 'FP32', data: Array.from(x) }] }),
  });
  const body = (await res.json()) as never;
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body;
}

/** Append until the filesystem refuses (ENOSPC): nothing is left for the agent, not even what it freed. */
function fillUp(file: string): void {
  const fd = fs.openSync(file, 'a');
  try {
    for (const size of [1024 * 1024, 4096, 1]) {
      const block = Buffer.alloc(size, 0xee);
      for (;;) {
        try {
          fs.writeSync(fd, block);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

function mountTmpfs(size: string): string {
  const dir = fs.mkdtempSync(path.join(tmpDir('ef-tmpfs-'), 'data-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  mounts.push(dir);
  return dir;
}

describe('agent on a full disk (child process, tmpfs)', () => {
  it.skipIf(!isRoot)('opens its store on a disk that filled up while the agent was stopped: reads work, writes fail with DISK_FULL', async () => {
    const dataDir = mountTmpfs('4m');
    const sha = 'cd'.repeat(32);
    let store = openSqliteStore({ dataDir });
    await store.put('slots', { m: { state: 'active' } });
    await store.openPartial(sha, 8192, 2);
    await store.writeChunk(sha, 0, new Uint8Array(4096).fill(7));
    await store.syncPartial(sha, Uint8Array.of(1));
    await store.close(); // a clean stop: no -wal or -shm file is left behind
    fillUp(path.join(dataDir, 'filler'));

    store = openSqliteStore({ dataDir }); // a -shm file could not be created now
    try {
      expect(await store.get('slots')).toEqual({ m: { state: 'active' } });
      expect(Array.from((await store.peekPartial(sha, 8192, 2))!)).toEqual([1]);
      await expect(store.put('slots', { big: 'x'.repeat(1 << 20) })).rejects.toMatchObject({ code: 'DISK_FULL' });
      await expect(store.writeChunk(sha, 4096, new Uint8Array(4096).fill(8))).rejects.toMatchObject({ code: 'DISK_FULL' });
      expect(await store.get('slots')).toEqual({ m: { state: 'active' } });
    } finally {
      await store.close();
    }
  });

  it.skipIf(!agentBuilt() || !isRoot)('keeps serving the verified model through a disk that fills mid-download and a restart on it, then resumes the download by itself', async () => {
    const hub = await startHub({ dataDir: tmpDir('ef-hub-'), http: '127.0.0.1:0', mqtt: '127.0.0.1:0', ws: null, log: () => {} });
    hubs.push(hub);
    const a = hubApi(hub);
    const deviceId = 'dev-full';
    const added = await a.post('/devices', { id: deviceId, tags: {} });
    expect(added.status, JSON.stringify(added.body)).toBe(201);

    // 24 MiB: room for the 16 MiB download (+10% +1 MiB headroom) at the start, but once 10 MiB are in, not for
    // a second whole copy — only a check that counts the bytes already received lets the download resume
    const dataDir = mountTmpfs('24m');
    const cfgFile = path.join(tmpDir(), 'agent.json');
    fs.writeFileSync(cfgFile, JSON.stringify({ ...added.body.agentConfig, dataDir }));

    const v1 = classifier(1, 8);
    const v2 = classifier(2, 524_288); // ≈ 16 MiB
    const x = floats(FEATURES, 5);
    const bare1 = Array.from((await bareRun(v1, x, 1)).probabilities);
    const bare2 = Array.from((await bareRun(v2, x, 1)).probabilities);
    const device = async () => (await a.get(`/devices/${deviceId}`)).body as { device: { reported?: { models?: Record<string, any> } }; events: { type: string; code?: string }[] };

    expect((await a.push(v1, 'm', '1.0.0')).status).toBe(201);
    expect((await a.post('/rollouts', { model: 'm', version: '1.0.0', targets: { devices: [deviceId] } })).status).toBe(201);
    let agent = await startAgentChild(children, cfgFile, dataDir, { quiet: !process.env.AGENT_LOG });
    await until(async () => (await device()).device.reported?.models?.m?.active?.version === '1.0.0', 30_000, 'v1 active');
    expect((await infer(agent.api, x)).outputs[0]!.data).toEqual(bare1);

    const pushed = await a.push(v2, 'm', '2.0.0');
    expect(pushed.status, JSON.stringify(pushed.body)).toBe(201);
    const chunkSize = 64 * 1024;
    const chunkCount = Math.ceil(v2.length / chunkSize);
    const sentBefore = hub.metrics.get('edgefleet_artifact_chunks_sent_total');
    expect((await a.post('/rollouts', { model: 'm', version: '2.0.0', targets: { devices: [deviceId] } })).status).toBe(201);

    // mid-download: once ≥ 10 MiB of the .part are on the tmpfs, a filler takes every byte left
    const modelsDir = path.join(dataDir, 'models');
    const partBytes = (): number => {
      const part = fs.readdirSync(modelsDir).find((f) => f.endsWith('.part'));
      return part ? fs.statSync(path.join(modelsDir, part)).blocks * 512 : 0;
    };
    const t0 = Date.now();
    while (partBytes() < 10 * 1024 * 1024) {
      if (Date.now() - t0 > 60_000) throw new Error('the download did not start');
      await new Promise((r) => setImmediate(r));
    }
    const filler = path.join(dataDir, 'filler');
    fillUp(filler);
    expect(fs.readdirSync(modelsDir).some((f) => f.endsWith('.part'))).toBe(true);

    // reported: DISK_FULL, as state and as an event; the process is up and serves v1
    await until(async () => JSON.stringify((await device()).device.reported?.models?.m?.error ?? null).includes('DISK_FULL'), 30_000, 'DISK_FULL reported');
    await until(async () => (await device()).events.some((e) => e.code === 'DISK_FULL'), 30_000, 'DISK_FULL event');
    await new Promise((r) => setTimeout(r, 3000)); // a few retry rounds against the full disk
    expect(alive(agent.child), agent.stderr()).toBe(true);
    if (process.env.AGENT_LOG) console.log(agent.stderr());
    let r = await infer(agent.api, x);
    expect(r.model_version).toBe('1.0.0');
    expect(r.outputs[0]!.data).toEqual(bare1);

    // restarted with the disk still full (after a kill -9, then after a clean stop): it starts and serves v1
    await kill9(agent.child);
    fillUp(filler);
    agent = await startAgentChild(children, cfgFile, dataDir, { quiet: !process.env.AGENT_LOG });
    r = await infer(agent.api, x);
    expect(r.model_version).toBe('1.0.0');
    expect(r.outputs[0]!.data).toEqual(bare1);
    const exited = new Promise<number | null>((res) => agent.child.once('exit', (code) => res(code)));
    agent.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    fillUp(filler); // a clean stop may have freed its WAL: the disk is full again
    agent = await startAgentChild(children, cfgFile, dataDir, { quiet: !process.env.AGENT_LOG });
    expect((await infer(agent.api, x)).outputs[0]!.data).toEqual(bare1);
    await new Promise((r) => setTimeout(r, 2000));
    expect(alive(agent.child), agent.stderr()).toBe(true);

    // space returns: the download resumes by itself, verifies, activates v2
    fs.rmSync(filler);
    await until(async () => (await device()).device.reported?.models?.m?.active?.version === '2.0.0', 90_000, 'v2 active');
    r = await infer(agent.api, x);
    expect(r.model_version).toBe('2.0.0');
    expect(r.outputs[0]!.data).toEqual(bare2);
    expect(alive(agent.child)).toBe(true);
    // resumed, not restarted: at most the chunks in flight at each of the three interruptions come twice
    const sent = hub.metrics.get('edgefleet_artifact_chunks_sent_total') - sentBefore;
    if (process.env.AGENT_LOG) console.log(`chunks sent ${sent} of ${chunkCount}\n${agent.stderr()}`);
    expect(sent).toBeGreaterThanOrEqual(chunkCount);
    expect(sent).toBeLessThan(chunkCount + 3 * 32);
    expect(fs.readdirSync(modelsDir).filter((f) => f.endsWith('.part'))).toEqual([]);
  }, 240_000);
});
