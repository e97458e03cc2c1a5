// Benchmarks of @edgefleet/protocol (design §11): histogram insertion on the inference hot path and
// the agent's full design §3 verification of a desired state.

import nacl from 'tweetnacl';
// source, not dist: the bench always measures the code in the tree, without a build step
import {
  createHistogram,
  fromBase64,
  generateKeyPair,
  histogramAdd,
  LIMITS,
  sha256Hex,
  signDocument,
  signedMessage,
  toKeyringKey,
  utf8Encode,
  verifyDesiredState,
  buildReferenceFeature,
  type DesiredState,
  type Envelope,
  type Keyring,
  type Manifest,
} from '@edgefleet/protocol';
import { createNormal, createRng } from '@edgefleet/protocol/testing';
import { compareNsPerOp, round, type BenchEntry, type Benchmark } from './harness.js';

async function histogramInsert(): Promise<BenchEntry> {
  const N = 1 << 20;
  const normal = createNormal(createRng(1));
  const values = new Float64Array(N);
  for (let i = 0; i < N; i++) values[i] = Math.exp(Math.log(20) + 0.9 * normal()); // lognormal latencies, ms
  const sink = new Float64Array(N);
  let h = createHistogram();
  let checksum = 0;
  const { candidate, baseline } = compareNsPerOp(
    (iterations) => {
      h = createHistogram();
      for (let i = 0; i < iterations; i++) histogramAdd(h, values[i & (N - 1)]!);
      checksum += h.count;
    },
    (iterations) => {
      for (let i = 0; i < iterations; i++) sink[i & (N - 1)] = values[i & (N - 1)]!;
      checksum += sink[0]!;
    },
  );
  if (checksum === -1) console.log(checksum); // keep the work observable
  return {
    value: round(candidate, 3),
    unit: 'ns/add',
    baseline: round(baseline, 3),
    ratio: round(candidate / baseline, 3),
    note: `histogramAdd (alpha 0.01, lognormal latencies, ${h.counts.length} buckets) vs storing into a preallocated Float64Array`,
  };
}

/** A desired state as the hub would send it: one realistic manifest (self-test tensors, 8-feature reference). */
function realisticDesiredState(): { raw: Uint8Array; keyring: Keyring; envelope: Envelope; manifestEnvelope: Envelope } {
  const release = generateKeyPair(new Uint8Array(32).fill(2));
  const director = generateKeyPair(new Uint8Array(32).fill(3));
  const keyring: Keyring = {
    kind: 'keyring',
    version: 1,
    expiresAt: '2100-01-01T00:00:00.000Z',
    keys: [toKeyringKey(release, ['release']), toKeyringKey(director, ['director'])],
    threshold: { release: 1, director: 1 },
    revokedKeyIds: [],
    releaseFloors: { 'sensor-anomaly': 1 },
  };
  const normal = createNormal(createRng(5));
  const features = Array.from({ length: 8 }, (_, f) =>
    buildReferenceFeature(`f${f}`, { input: 'x', index: f }, Array.from({ length: 5000 }, () => normal() * (f + 1))),
  );
  const row = (seed: number) => Array.from({ length: 8 }, (_, f) => Math.round(Math.sin(seed + f) * 1000) / 1000);
  const manifest: Manifest = {
    kind: 'model-manifest',
    model: 'sensor-anomaly',
    version: '2.4.1',
    release: 7,
    createdAt: '2026-11-01T00:00:00.000Z',
    artifact: { sha256: sha256Hex(utf8Encode('model')), size: 5_242_880, chunkSize: 65536, format: 'onnx' },
    io: {
      inputs: [{ name: 'x', type: 'float32', shape: ['batch', 8] }],
      outputs: [
        { name: 'probabilities', type: 'float32', shape: ['batch', 3] },
        { name: 'label', type: 'int64', shape: ['batch'] },
      ],
    },
    selfTest: {
      inputs: [{ name: 'x', type: 'float32', shape: [4, 8], data: [0, 1, 2, 3].flatMap(row) }],
      outputs: [
        { name: 'probabilities', type: 'float32', shape: [4, 3], data: [0.7, 0.2, 0.1, 0.1, 0.8, 0.1, 0.3, 0.3, 0.4, 0.5, 0.25, 0.25] },
        { name: 'label', type: 'int64', shape: [4], data: [0, 1, 2, 0] },
      ],
      tolerance: { abs: 1e-4, rel: 1e-3 },
    },
    reference: { n: 5000, features },
    labels: ['normal', 'drifting', 'failing'],
    lineage: { dataset: { id: 'sensors-2026-10' }, run: 'run-42', commit: 'abc1234', metrics: { accuracy: 0.93 } },
    compat: { runtimes: ['onnxruntime'], irVersion: 9, opsets: { '': 17 } },
  };
  const manifestEnvelope = signDocument('model-manifest', manifest, [release]);
  const desired: DesiredState = {
    kind: 'desired-state',
    deviceId: 'pump-7',
    sequence: 12,
    issuedAt: '2026-11-26T00:00:00.000Z',
    expiresAt: '2100-01-01T00:00:00.000Z',
    models: [{ manifest: manifestEnvelope, role: 'active', rolloutId: 'r-0001' }],
    telemetry: { windowSeconds: 60, probationSeconds: 600, probationMaxErrorRate: 0.2, probationMinInferences: 20 },
  };
  const envelope = signDocument('desired-state', desired, [director]);
  const raw = utf8Encode(JSON.stringify(envelope));
  if (raw.length > LIMITS.desired) throw new Error('bench desired state exceeds the cap');
  return { raw, keyring, envelope, manifestEnvelope };
}

async function verifyPerSecond(): Promise<BenchEntry> {
  const { raw, keyring, envelope, manifestEnvelope } = realisticDesiredState();
  const ctx = { deviceId: 'pump-7', lastSequence: 11, keyring, now: new Date('2026-11-26T12:00:00Z') };
  const first = verifyDesiredState(raw, ctx);
  if (!first.ok) throw new Error(`bench desired state does not verify: ${first.code} ${first.message}`);
  // the physical floor: the two Ed25519 checks the order needs (director over the desired state,
  // release over the manifest), on the same bytes, with nothing else
  const checks = [envelope, manifestEnvelope].map((env, i) => {
    const sig = env.signatures[0]!;
    const pub = fromBase64(keyring.keys[i === 0 ? 1 : 0]!.publicKey);
    return { msg: signedMessage(i === 0 ? 'desired-state' : 'model-manifest', fromBase64(env.payload)), sig: fromBase64(sig.sig), pub };
  });
  let okCount = 0;
  const { candidate, baseline } = compareNsPerOp(
    (iterations) => {
      for (let i = 0; i < iterations; i++) if (verifyDesiredState(raw, ctx).ok) okCount++;
    },
    (iterations) => {
      for (let i = 0; i < iterations; i++) {
        for (const c of checks) if (nacl.sign.detached.verify(c.msg, c.sig, c.pub)) okCount++;
      }
    },
    { rounds: 5, minMs: 300, warmupMs: 800 },
  );
  if (okCount === 0) throw new Error('nothing verified');
  const value = 1e9 / candidate;
  const base = 1e9 / baseline;
  return {
    value: round(value, 3),
    unit: 'verifications/s',
    baseline: round(base, 3),
    ratio: round(value / base, 3),
    note: `verifyDesiredState of a ${(raw.length / 1024).toFixed(1)} KiB desired state with one manifest (8-feature reference, self-test tensors) vs bare nacl.sign.detached.verify of its two signatures`,
  };
}

export const benchmarks: Record<string, Benchmark> = {
  'protocol.histogram.insert_ns': histogramInsert,
  'protocol.verify.per_s': verifyPerSecond,
};
