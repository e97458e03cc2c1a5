// A real publisher for agent tests: an aedes broker on 127.0.0.1 port 0 plus a signer holding protocol
// root/release/director keys. It publishes keyrings, desired states and commands exactly as the hub would,
// answers `artifact/get` with real chunk frames, and records everything devices publish.

import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Aedes } from 'aedes';
import * as ort from 'onnxruntime-node';
import {
  ChunkRequest,
  LIMITS,
  encodeChunkFrame,
  generateKeyPair,
  sha256Hex,
  signDocument,
  toBase64,
  toKeyringKey,
  topics,
  type AgentConfig,
  type Envelope,
  type KeyPair,
  type Keyring,
  type Manifest,
  type TelemetryBatch,
  type TelemetrySettings,
  type TensorData,
} from '@edgefleet/protocol';
import { seededClassifier, seededFloats as floats } from '@edgefleet/protocol/testing';

export interface Published {
  topic: string;
  payload: Buffer;
  retain: boolean;
}

export interface ModelBuild {
  name: string;
  version: string;
  release: number;
  bytes: Uint8Array;
  chunkSize?: number;
  labels?: string[];
  /** Replace the self-test's expected outputs (a model that must fail its self-test). */
  breakSelfTest?: boolean;
  urls?: string[];
  /** Reference features f0…f(n−1), one per input column (default: f0 only). */
  features?: number;
}

const seed = (n: number): Uint8Array => new Uint8Array(32).fill(n);

/** Deterministic floats in [-scale, scale): protocol's test generator, under the name these tests use. */
export { floats };

export const FEATURES = 4;
export const CLASSES = 3;

/** A softmax classifier features[batch, 4] → probabilities[batch, 3], label[batch]; `hidden` makes it bigger. */
export const classifier = (weightSeed: number, hidden = 0): Uint8Array => seededClassifier({ seed: weightSeed, features: FEATURES, classes: CLASSES, hidden });

/** Bare onnxruntime-node on the same bytes: the reference answer. */
export async function bareRun(bytes: Uint8Array, x: Float32Array, rows: number): Promise<{ probabilities: Float32Array; label: BigInt64Array }> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const out = await session.run({ features: new ort.Tensor('float32', x, [rows, FEATURES]) });
    return { probabilities: out.probabilities!.data as Float32Array, label: out.label!.data as BigInt64Array };
  } finally {
    await session.release();
  }
}

export interface Harness {
  url: string;
  port: number;
  root: KeyPair;
  release: KeyPair;
  director: KeyPair;
  published: Published[];
  artifacts: Map<string, Uint8Array>;
  /** Chunk indices (per sha256) whose next frame is corrupted once. */
  corruptOnce: Map<string, Set<number>>;
  /** Delay before answering each artifact/get (slows downloads so kills land mid-way). */
  chunkDelayMs: number;
  /** Stop answering artifact/get (a hub that went quiet). */
  mute: boolean;
  /** Answer each artifact/get's chunks last first (frames arriving out of order). */
  reverseChunks: boolean;
  /** Chunk frames sent so far, in all and per artifact. */
  framesSent: number;
  framesBySha: Map<string, number>;
  keyring: Keyring;
  agentConfig(deviceId: string, extra?: Partial<AgentConfig>): AgentConfig;
  publishKeyring(keyring?: Partial<Keyring>, signers?: KeyPair[]): Promise<void>;
  manifest(build: ModelBuild): Promise<{ manifest: Manifest; envelope: Envelope; sha256: string }>;
  desired(
    deviceId: string,
    models: { envelope: Envelope; role?: 'active' | 'shadow'; rolloutId?: string }[],
    options?: { sequence?: number; telemetry?: Partial<TelemetrySettings>; signers?: KeyPair[]; expiresInMs?: number },
  ): Promise<{ sequence: number; raw: string }>;
  publishRaw(topic: string, raw: string | Uint8Array, retain?: boolean): Promise<void>;
  command(deviceId: string, action: 'rollback' | 'flush-telemetry' | 'resync', options?: { model?: string; sequence?: number }): Promise<void>;
  telemetry(deviceId: string): TelemetryBatch[];
  events(deviceId: string): { type: string; code?: string; model?: string; version?: string; message: string }[];
  /** Stop the broker's listener and drop every connection (the broker "goes down"). */
  down(): Promise<void>;
  /** Listen again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

export function tmpDir(prefix = 'ef-agent-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function startHarness(): Promise<Harness> {
  const broker = await Aedes.createBroker();
  const sockets = new Set<net.Socket>();
  let server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    broker.handle(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const root = generateKeyPair(seed(1));
  const release = generateKeyPair(seed(2));
  const director = generateKeyPair(seed(3));
  const sequences = new Map<string, number>();
  const commandSeq = new Map<string, number>();

  const publish = (topic: string, payload: string | Uint8Array, retain = false): Promise<void> =>
    new Promise((resolve, reject) =>
      broker.publish(
        { cmd: 'publish', topic, payload: typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload), qos: 1, retain, dup: false },
        (err) => (err ? reject(err) : resolve()),
      ),
    );

  const h: Harness = {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    root,
    release,
    director,
    published: [],
    artifacts: new Map(),
    corruptOnce: new Map(),
    chunkDelayMs: 0,
    mute: false,
    reverseChunks: false,
    framesSent: 0,
    framesBySha: new Map(),
    keyring: {
      kind: 'keyring',
      version: 1,
      expiresAt: new Date(Date.now() + 86400_000).toISOString(),
      keys: [toKeyringKey(release, ['release']), toKeyringKey(director, ['director'])],
      threshold: { release: 1, director: 1 },
      revokedKeyIds: [],
      releaseFloors: {},
    },

    agentConfig(deviceId, extra = {}) {
      return {
        deviceId,
        brokers: { tcp: `mqtt://127.0.0.1:${port}` },
        username: deviceId,
        password: 'device-password-0123456789',
        rootPublicKey: toBase64(root.publicKey),
        dataDir: tmpDir(),
        api: '127.0.0.1:0',
        ...extra,
      };
    },

    async publishKeyring(patch = {}, signers = [root]) {
      h.keyring = { ...h.keyring, ...patch };
      await publish(topics.keyring(), JSON.stringify(signDocument('keyring', h.keyring, signers)), true);
    },

    async manifest(b) {
      const sha256 = sha256Hex(b.bytes);
      h.artifacts.set(sha256, b.bytes);
      const x = floats(2 * FEATURES, 99);
      const bare = await bareRun(b.bytes, x, 2);
      const outputs: TensorData[] = [
        { name: 'probabilities', type: 'float32', shape: [2, CLASSES], data: Array.from(bare.probabilities, (v) => (b.breakSelfTest ? v + 0.5 : v)) },
      ];
      const manifest: Manifest = {
        kind: 'model-manifest',
        model: b.name,
        version: b.version,
        release: b.release,
        createdAt: new Date().toISOString(),
        artifact: { sha256, size: b.bytes.length, chunkSize: b.chunkSize ?? 16 * 1024, format: 'onnx', ...(b.urls ? { urls: b.urls } : {}) },
        io: {
          inputs: [{ name: 'features', type: 'float32', shape: ['batch', FEATURES] }],
          outputs: [
            { name: 'probabilities', type: 'float32', shape: ['batch', CLASSES] },
            { name: 'label', type: 'int64', shape: ['batch'] },
          ],
        },
        selfTest: {
          inputs: [{ name: 'features', type: 'float32', shape: [2, FEATURES], data: Array.from(x) }],
          outputs,
          tolerance: { abs: 1e-5, rel: 1e-4 },
        },
        reference: {
          n: 100,
          features: Array.from({ length: b.features ?? 1 }, (_, i) => ({ name: `f${i}`, source: { input: 'features', index: i }, edges: [-0.5, 0, 0.5], counts: [25, 25, 25, 25], mean: 0, std: 0.6 })),
          output: { kind: 'classifier', output: 'probabilities', indices: false, classCounts: [34, 33, 33] },
        },
        labels: b.labels ?? ['a', 'b', 'c'],
        lineage: {},
        compat: { runtimes: ['onnxruntime'] },
      };
      return { manifest, envelope: signDocument('model-manifest', manifest, [release]), sha256 };
    },

    async desired(deviceId, models, options = {}) {
      const sequence = options.sequence ?? (sequences.get(deviceId) ?? 0) + 1;
      sequences.set(deviceId, Math.max(sequence, sequences.get(deviceId) ?? 0));
      const doc = {
        kind: 'desired-state',
        deviceId,
        sequence,
        issuedAt: new Date().toISOString(),
        expiresAt: new Date(Date.now() + (options.expiresInMs ?? 3600_000)).toISOString(),
        models: models.map((m) => ({ manifest: m.envelope, role: m.role ?? 'active', ...(m.rolloutId ? { rolloutId: m.rolloutId } : {}) })),
        ...(options.telemetry ? { telemetry: options.telemetry } : {}),
      };
      const raw = JSON.stringify(signDocument('desired-state', doc, options.signers ?? [director]));
      await publish(topics.desired(deviceId), raw, true);
      return { sequence, raw };
    },

    publishRaw(topic, raw, retain = false) {
      return publish(topic, raw, retain);
    },

    async command(deviceId, action, options = {}) {
      const sequence = options.sequence ?? (commandSeq.get(deviceId) ?? 0) + 1;
      commandSeq.set(deviceId, sequence);
      const doc = {
        kind: 'command',
        deviceId,
        sequence,
        issuedAt: new Date().toISOString(),
        expiresAt: new Date(Date.now() + 600_000).toISOString(),
        action,
        ...(options.model ? { model: options.model } : {}),
      };
      await publish(topics.command(deviceId), JSON.stringify(signDocument('command', doc, [director])));
    },

    telemetry(deviceId) {
      return h.published.filter((p) => p.topic === topics.telemetry(deviceId)).map((p) => JSON.parse(p.payload.toString()) as TelemetryBatch);
    },

    events(deviceId) {
      return h.published.filter((p) => p.topic === topics.events(deviceId)).map((p) => JSON.parse(p.payload.toString()));
    },

    async down() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },

    async up() {
      server = net.createServer((s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        broker.handle(s);
      });
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    },

    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };

  // a device's pending chunk answers stop when its connection goes away, as a hub's would
  const generations = new Map<string, number>();
  broker.on('clientDisconnect', (client) => {
    generations.set(client.id, (generations.get(client.id) ?? 0) + 1);
  });

  broker.on('publish', (packet, client) => {
    if (!client) return; // our own publications
    h.published.push({ topic: packet.topic, payload: Buffer.from(packet.payload as Buffer), retain: packet.retain });
    const m = /^ef\/v1\/devices\/([a-z0-9-]+)\/artifact\/get$/.exec(packet.topic);
    if (!m || h.mute) return;
    const req = ChunkRequest.safeParse(JSON.parse(packet.payload.toString()));
    if (!req.success || req.data.chunks.length > LIMITS.chunkWindow) return;
    const bytes = h.artifacts.get(req.data.sha256);
    if (!bytes) return;
    const chunkSize = 16 * 1024;
    const deviceId = m[1]!;
    const manifestChunk = chunkSizes.get(req.data.sha256) ?? chunkSize;
    const generation = generations.get(deviceId) ?? 0;
    void (async () => {
      for (const index of h.reverseChunks ? [...req.data.chunks].reverse() : req.data.chunks) {
        if (h.chunkDelayMs > 0) await new Promise((r) => setTimeout(r, h.chunkDelayMs));
        if ((generations.get(deviceId) ?? 0) !== generation) return; // the asking connection is gone
        let data = bytes.slice(index * manifestChunk, Math.min(bytes.length, (index + 1) * manifestChunk));
        const corrupt = h.corruptOnce.get(req.data.sha256);
        if (corrupt?.has(index)) {
          corrupt.delete(index);
          data = new Uint8Array(data); // a copy: protobufjs hands out Buffers, whose slice() is a view
          data[0] = data[0]! ^ 0xff;
        }
        await publish(topics.artifactData(deviceId), encodeChunkFrame(req.data.sha256, index, data)).catch(() => {});
        h.framesSent++;
        h.framesBySha.set(req.data.sha256, (h.framesBySha.get(req.data.sha256) ?? 0) + 1);
      }
    })();
  });

  // the manifest's chunk size per artifact, so frames match what the device expects
  const chunkSizes = new Map<string, number>();
  const manifestFn = h.manifest;
  h.manifest = async (b) => {
    const r = await manifestFn(b);
    chunkSizes.set(r.sha256, r.manifest.artifact.chunkSize);
    return r;
  };
  return h;
}
