// Benchmarks of on-device explanations (design §5 `explain`, §11), against a plain inference in the same run:
// - explain.ms.{6,12}: median ms of one `agent.explain()` (exact Shapley: 2^k coalitions in batched
//   onnxruntime runs) on a real MLP (k → 32 tanh → 3) of 6 and 12 features, rolled out to a real agent;
//   baseline: one `agent.infer()` of the same row on the same model; ratio = explain / infer.

import { buildMlpClassifier } from '@edgefleet/protocol/onnx';
import { createRng } from '@edgefleet/protocol';
import { agentWith, compareCalls } from './agent.js';
import { round, type BenchEntry, type Benchmark } from './harness.js';

const HIDDEN = 32;
const CLASSES = 3;

/** A seeded MLP of `k` features and its validation JSONL (rows standard-ish normal, labels its own argmax-free guess). */
function mlp(k: number, seed: number): { bytes: Uint8Array; validation: string; rows: Float32Array[] } {
  const rng = createRng(seed);
  const rand = (n: number, scale: number) => Float32Array.from({ length: n }, () => (rng() * 2 - 1) * scale);
  const bytes = buildMlpClassifier({
    weights: [rand(k * HIDDEN, 1 / Math.sqrt(k)), rand(HIDDEN * CLASSES, 1 / Math.sqrt(HIDDEN))],
    biases: [rand(HIDDEN, 0.1), rand(CLASSES, 0.1)],
    activation: 'tanh',
  });
  const rows = Array.from({ length: 400 }, () => Float32Array.from({ length: k }, () => (rng() + rng() + rng() - 1.5) * 2));
  const validation = rows.map((x) => JSON.stringify({ inputs: { features: Array.from(x) } })).join('\n') + '\n';
  return { bytes, validation, rows };
}

async function explainMs(): Promise<Record<string, BenchEntry>> {
  const sizes = [6, 12] as const;
  const made = Object.fromEntries(sizes.map((k) => [`mlp${k}`, mlp(k, 100 + k)]));
  const s = await agentWith(
    Object.fromEntries(Object.entries(made).map(([n, m]) => [n, m.bytes])),
    false,
    Object.fromEntries(Object.entries(made).map(([n, m]) => [n, m.validation])),
  );
  try {
    const out: Record<string, BenchEntry> = {};
    for (const k of sizes) {
      const name = `mlp${k}`;
      const { rows } = made[name]!;
      const feeds = (i: number) => ({ features: { type: 'float32' as const, dims: [1, k], data: rows[i % rows.length]! } });
      const r = await compareCalls(
        (i) => s.agent.explain(name, feeds(i)),
        (i) => s.agent.infer(name, feeds(i)),
        { blocks: 8, calls: 10, warmup: 10 },
      );
      out[String(k)] = {
        value: round(r.candidate / 1e6, 4),
        unit: 'ms',
        baseline: round(r.baseline / 1e6, 4),
        ratio: round(r.candidate / r.baseline, 2),
        note: `median of ${r.samples} explanations: exact Shapley over ${2 ** k} coalitions of a ${k}→${HIDDEN}→${CLASSES} tanh MLP against the reference baseline; baseline: one agent.infer() of the same row`,
      };
    }
    return out;
  } finally {
    await s.close();
  }
}

export const benchmarks: Record<string, Benchmark> = { 'explain.ms': explainMs };
