// Benchmark of batch inference on device data (design §2 `edgefleet-agent batch`, §11):
// - agent.batch.rows_per_s: rows/s of the offline batch path (JSONL streamed from disk, zod-checked, decoded
//   like an OIP request, run, telemetry recorded, JSONL written) on a data dir a real hub deployed to;
//   baseline: bare onnxruntime `session.run()` over the same rows already in memory, one row per run, as
//   many in flight as runBatch keeps (4).
//   ratio = value / baseline (≤ 1: what parsing, checking, telemetry and writing cost per row).

import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAgent, createOnnxRuntime, openOfflineModel, openSqliteStore, runBatch } from '@edgefleet/agent';
import * as ort from 'onnxruntime-node';
import { startHub } from '@edgefleet/hub';
import { createHubClient } from '../sim/hub-client.js';
import { trainVibrationModels } from '../sim/models.js';
import { generateVibrationDataset } from '../lib/train.js';
import { median, round, type BenchEntry, type Benchmark } from './harness.js';

const N = 2000;
const ROUNDS = 5;

async function rowsPerSecond(): Promise<BenchEntry> {
  const dir = mkdtempSync(join(tmpdir(), 'edgefleet-bench-batch-'));
  const hub = await startHub({ dataDir: join(dir, 'hub'), http: '127.0.0.1:0', mqtt: '127.0.0.1:0', ws: null });
  try {
    const trained = trainVibrationModels().v1;
    const client = createHubClient(hub.urls.http, hub.adminToken);
    await client.pushModel({ name: 'm', version: '1.0.0', file: trained.bytes, validation: trained.validation });
    const { agentConfig } = await client.addDevice('bench-batch');
    const dataDir = join(dir, 'agent');
    const agent = createAgent(agentConfig, { dataDir, api: false });
    await agent.start();
    await client.startRollout({ model: 'm', version: '1.0.0', targets: { all: true } });
    await agent.core.waitFor(() => agent.core.slots().m?.active?.version === '1.0.0', 120_000);
    await agent.stop();

    const X = generateVibrationDataset({ n: N, seed: 5 }).X.data;
    const rows = Array.from({ length: N }, (_, i) => Float32Array.from(X.slice(i * 6, i * 6 + 6)));
    const input = join(dir, 'rows.jsonl');
    writeFileSync(input, rows.map((r) => JSON.stringify({ input: Array.from(r) })).join('\n') + '\n');

    const store = openSqliteStore({ dataDir });
    const model = await openOfflineModel(store, createOnnxRuntime(), 'm', (b) => createHash('sha256').update(b).digest('hex'));
    const bare = await ort.InferenceSession.create(trained.bytes, { graphOptimizationLevel: 'all' });
    try {
      const candidate: number[] = [];
      const baseline: number[] = [];
      for (let k = 0; k < ROUNDS; k++) {
        const s = await runBatch(model, { input, output: join(dir, 'out.jsonl') });
        if (s.failed > 0) throw new Error(`${s.failed} rows failed`);
        candidate.push(s.rowsPerSecond);
        const t0 = performance.now();
        // the same 4 rows in flight as runBatch's default, in order
        const window: Promise<unknown>[] = [];
        for (const r of rows) {
          window.push(bare.run({ features: new ort.Tensor('float32', r, [1, 6]) }));
          if (window.length >= 4) await window.shift();
        }
        await Promise.all(window);
        baseline.push(N / ((performance.now() - t0) / 1000));
      }
      const value = median(candidate);
      const base = median(baseline);
      return {
        value: round(value),
        unit: 'rows/s',
        baseline: round(base),
        ratio: round(value / base, 4),
        note: `median of ${ROUNDS} rounds of ${N} JSONL rows ({input:[6 floats]}), one row per run, telemetry on, JSONL out; baseline bare session.run on the same rows in memory, 4 in flight like runBatch`,
      };
    } finally {
      await bare.release();
      await model.close();
      await store.close();
    }
  } finally {
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const benchmarks: Record<string, Benchmark> = {
  'agent.batch.rows_per_s': rowsPerSecond,
};
