// Resumable downloads under kill -9 (design §5 "resumable across restarts: the received-chunk bitmap is
// persisted"): the built agent bin is killed at seeded random points of one download, 20 times. After every
// kill, each chunk the persisted bitmap names holds the artifact's bytes in the .part file; every restart
// asks only for chunks that bitmap lacks; the download ends verified, with no HASH_MISMATCH.

import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { topics } from '@edgefleet/protocol';
import { createRng } from '@edgefleet/protocol/testing';
import { agentBuilt, kill9, startAgentChild, until } from './support/agent-process.js';
import { classifier, startHarness, tmpDir, type Harness } from './support/fleet-harness.js';

let h: Harness;
const children: ChildProcess[] = [];

beforeEach(async () => {
  h = await startHarness();
  await h.publishKeyring();
});

afterEach(async () => {
  for (const c of children.splice(0)) await kill9(c);
  await h.close();
});

const hasBit = (b: Uint8Array, i: number): boolean => ((b[i >> 3] ?? 0) & (1 << (i & 7))) !== 0;

/** The bitmap the dead agent persisted for `sha256` (null: no partial row). */
function persistedBitmap(dataDir: string, sha256: string): Uint8Array | null {
  const db = new Database(path.join(dataDir, 'agent.db'), { readonly: true });
  try {
    const row = db.prepare<[string], { bitmap: Buffer }>('SELECT bitmap FROM partials WHERE sha256 = ?').get(sha256);
    return row ? new Uint8Array(row.bitmap) : null;
  } finally {
    db.close();
  }
}

function requestedSince(deviceId: string, sha256: string, from: number): number[] {
  return h.published
    .slice(from)
    .filter((p) => p.topic === topics.artifactGet(deviceId))
    .map((p) => JSON.parse(p.payload.toString()) as { sha256: string; chunks: number[] })
    .filter((q) => q.sha256 === sha256)
    .flatMap((q) => q.chunks);
}

describe('resumed downloads after kill -9 (child process)', () => {
  it.skipIf(!agentBuilt())('persists a chunk bit only for bytes on disk: 20 kills mid-download, each resume fetches only missing chunks, no HASH_MISMATCH', async () => {
    const rng = createRng(20261202);
    const deviceId = 'dev-resume';
    const dataDir = tmpDir();
    const cfgFile = path.join(tmpDir(), 'agent.json');
    fs.writeFileSync(cfgFile, JSON.stringify(h.agentConfig(deviceId, { dataDir })));
    const chunkSize = 64 * 1024; // the hub's default
    const v2 = classifier(2, 800_000); // ≈ 22 MB: bursts of frames arrive while earlier chunks are still being written
    const m2 = await h.manifest({ name: 'm', version: '2.0.0', release: 2, bytes: v2, chunkSize });
    const chunkCount = Math.ceil(v2.length / chunkSize);
    // probation off: these kills are the test's doing, not a crash loop of the new version
    await h.desired(deviceId, [{ envelope: m2.envelope }], { telemetry: { probationSeconds: 0 } });

    let corruptBits = 0;
    let refetched = 0;
    let persisted: Uint8Array | null = null;
    let kills = 0;
    for (let i = 0; i < 20; i++) {
      const from = h.published.length;
      const { child } = await startAgentChild(children, cfgFile, dataDir);
      const target = h.framesBySha.get(m2.sha256) ?? 0;
      const more = 1 + Math.floor(rng() * 16);
      await until(() => (h.framesBySha.get(m2.sha256) ?? 0) >= target + more || fs.existsSync(path.join(dataDir, 'models', `${m2.sha256}.onnx`)), 20_000, 'chunks').catch(() => {});
      await new Promise((r) => setTimeout(r, rng() * 5));
      await kill9(child);
      kills++;
      // this run asked only for chunks the previous kill's bitmap did not name
      for (const c of requestedSince(deviceId, m2.sha256, from)) if (persisted && hasBit(persisted, c)) refetched++;
      if (fs.existsSync(path.join(dataDir, 'models', `${m2.sha256}.onnx`))) break;
      persisted = persistedBitmap(dataDir, m2.sha256);
      const part = fs.readFileSync(path.join(dataDir, 'models', `${m2.sha256}.part`));
      for (let c = 0; persisted && c < chunkCount; c++) {
        if (!hasBit(persisted, c)) continue;
        const end = Math.min(v2.length, (c + 1) * chunkSize);
        if (!part.subarray(c * chunkSize, end).equals(Buffer.from(v2.subarray(c * chunkSize, end)))) corruptBits++;
      }
    }
    if (process.env.AGENT_LOG) console.log(`kills ${kills}, chunks persisted at the last kill ${persisted ? [...Array(chunkCount).keys()].filter((c) => hasBit(persisted!, c)).length : 0} of ${chunkCount}`);
    expect(kills).toBeGreaterThanOrEqual(15);
    expect(corruptBits).toBe(0);
    expect(refetched).toBe(0);

    const from = h.published.length;
    await startAgentChild(children, cfgFile, dataDir);
    await until(() => {
      const r = h.published.filter((p) => p.topic === topics.reported(deviceId)).at(-1);
      return r !== undefined && (JSON.parse(r.payload.toString()) as { models: { m?: { active?: { version: string } } } }).models.m?.active?.version === '2.0.0';
    }, 30_000, 'v2 active');
    for (const c of requestedSince(deviceId, m2.sha256, from)) if (persisted && hasBit(persisted, c)) refetched++;
    expect(refetched).toBe(0);
    if (process.env.AGENT_LOG) console.log(`frames sent ${h.framesBySha.get(m2.sha256)} for ${chunkCount} chunks`);
    expect(h.events(deviceId).filter((e) => e.code === 'HASH_MISMATCH' || e.type === 'verification-failed')).toEqual([]);
  }, 180_000);
});
