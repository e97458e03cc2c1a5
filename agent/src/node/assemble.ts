// The Node assembly of the device agent (design §5): the platform-neutral core wired to mqtt.js,
// onnxruntime-node, better-sqlite3 + files in the data dir, and the local OIP API. `createAgent(config)`.

import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { ApiHost, EdgefleetError, fromBase64, parseAgentConfig, parseHostPort, topics, type AgentConfig } from '@edgefleet/protocol';
import { createAgentCore, type AgentCore, type AgentCoreOptions, type ExplainCallOptions, type InferOptions, type InferResult } from '../core/agent-core.js';
import type { InferenceRuntime } from '../core/runtime.js';
import type { OipExplainResponse, Tensor } from '@edgefleet/protocol';
import { startLocalApi, type LocalApi } from './local-api.js';
import { installNodeSignatureVerifier } from './ed25519.js';
import { createMqttTransport } from '../mqtt/index.js';
import { createOnnxRuntime } from './onnx-runtime.js';
import { openSqliteStore } from './sqlite-store.js';
import { resolveBatchFile, runBatch, summaryLine } from './batch.js';
import { manifestOf } from '../core/context.js';

export interface AgentOptions {
  /** Overrides `config.dataDir`. */
  dataDir?: string;
  /** Overrides `config.api` ("HOST:PORT"); false: no local HTTP API. */
  api?: string | false;
  /** Extra Host names the local API answers, on top of `config.localApi.hosts` (design §5). */
  apiHosts?: string[];
  runtime?: InferenceRuntime;
  log?: (line: string) => void;
  /** Tuning the core (download window, retry backoff, outbox bound, …); tests use it to run fast. */
  core?: Partial<Omit<AgentCoreOptions, 'deviceId' | 'rootPublicKey' | 'transport' | 'runtime' | 'store'>>;
  /** Reconnect backoff of the MQTT transport. */
  reconnect?: { initialMs?: number; maxMs?: number };
  /** Which broker URLs to use, in order (default: tcp, then ws). */
  brokers?: ('tcp' | 'ws')[];
}

export interface Agent {
  readonly config: AgentConfig;
  readonly dataDir: string;
  /** Local API base URL once started (null without an API). */
  readonly apiUrl: string | null;
  readonly core: AgentCore;
  start(): Promise<void>;
  stop(): Promise<void>;
  infer(name: string, inputs: Record<string, Tensor>, options?: InferOptions): Promise<InferResult>;
  feedback(name: string, id: string, label: string | number): Promise<void>;
  /** Shapley attributions of one prediction of the active verified model, offline (design §5 explanations). */
  explain(name: string, inputs: Record<string, Tensor>, options?: ExplainCallOptions): Promise<OipExplainResponse>;
}

export { parseAgentConfig };

export function createAgent(configInput: unknown, options: AgentOptions = {}): Agent {
  const config = parseAgentConfig(configInput);
  const dataDir = path.resolve(options.dataDir ?? config.dataDir);
  const apiAddr = options.api === false ? null : parseHostPort(options.api ?? config.api, 'API address');
  for (const h of options.apiHosts ?? []) {
    if (!ApiHost.safeParse(h).success) throw new EdgefleetError('BAD_INPUT', `invalid API host ${JSON.stringify(h)} (want NAME or NAME:PORT, IPv6 in brackets)`);
  }
  const log = options.log ?? (() => {});
  const order = options.brokers ?? ['tcp', 'ws'];
  const urls = order.map((k) => config.brokers[k]).filter((u): u is string => typeof u === 'string');
  if (urls.length === 0) throw new EdgefleetError('BAD_INPUT', 'no broker URL to connect to');

  let core: AgentCore | null = null;
  let api: LocalApi | null = null;
  let store: ReturnType<typeof openSqliteStore> | null = null;

  const need = (): AgentCore => {
    if (!core) throw new EdgefleetError('UNAVAILABLE', 'agent is not started');
    return core;
  };

  const agent: Agent = {
    config,
    dataDir,
    get apiUrl() {
      return api?.url ?? null;
    },
    get core() {
      return need();
    },

    async start() {
      if (core) return;
      installNodeSignatureVerifier(); // native Ed25519: same verdicts as tweetnacl (protocol's default), far cheaper
      store = openSqliteStore({ dataDir });
      const transport = createMqttTransport({
        urls,
        clientId: config.deviceId,
        username: config.username,
        password: config.password,
        will: { topic: topics.status(config.deviceId), payload: 'offline', retain: true, qos: 1 },
        ...(options.reconnect ? { backoff: options.reconnect } : {}),
        log,
      });
      const dataStore = store;
      const c = createAgentCore({
        platform: `${process.platform}-${process.arch}`,
        resources: async () => ({
          rssBytes: process.memoryUsage.rss(),
          ...(await dataStore.freeBytes().then((n) => (n === null ? {} : { diskFreeBytes: n }))),
        }),
        log,
        sha256Stream: () => {
          const h = createHash('sha256');
          return { update: (bytes: Uint8Array) => h.update(bytes), digestHex: () => h.digest('hex') };
        },
        batch: async (model, file) => {
          // design §4 command `batch`: only files inside the directory this device's config allows
          if (!config.batchDir) throw new EdgefleetError('FORBIDDEN', 'this device allows no batch files (agent config batchDir)');
          const input = resolveBatchFile(path.resolve(dataDir, config.batchDir), file);
          const ref = c.slots()[model]?.active;
          const manifest = ref && (await manifestOf(dataStore, ref.sha256));
          if (!ref || !manifest) throw new EdgefleetError('NOT_FOUND', `model '${model}' has no active verified version`);
          // the agent's own inference (telemetry, prediction ids), pinned to the version the batch started on
          const bm = { name: model, version: ref.version, manifest, infer: (req: Parameters<AgentCore['infer']>[1]) => c.infer(model, req, ref.version) };
          const summary = await runBatch(bm, { input, output: `${input}.out.jsonl` });
          return { version: ref.version, message: summaryLine(bm, summary) };
        },
        ...(config.hubUrl ? { http: { baseUrl: config.hubUrl, username: config.deviceId, password: config.password } } : {}),
        ...(config.capture ? { capture: config.capture } : {}),
        ...options.core,
        deviceId: config.deviceId,
        rootPublicKey: fromBase64(config.rootPublicKey),
        transport,
        runtime: options.runtime ?? createOnnxRuntime(),
        store,
      });
      core = c;
      try {
        // design §5 offline first: models on disk are loaded (core.start) and served before the broker answers
        await c.start();
        if (apiAddr) {
          const { hosts = [], ...limits } = config.localApi ?? {};
          api = await startLocalApi(c, { ...apiAddr, ...limits, allowedHosts: [...hosts, ...(options.apiHosts ?? [])] });
        }
      } catch (err) {
        await c.stop().catch(() => {});
        await dataStore.close().catch(() => {});
        core = null;
        store = null;
        throw err;
      }
    },

    async stop() {
      const c = core;
      if (!c) return;
      await api?.close();
      api = null;
      await c.stop();
      await store?.close();
      store = null;
      core = null;
    },

    infer(name, inputs, opts) {
      return need().run(name, inputs, opts);
    },
    feedback(name, id, label) {
      return need().label(name, id, label);
    },
    explain(name, inputs, opts) {
      return need().explainFeeds(name, inputs, opts);
    },
  };
  return agent;
}

export const defaultPlatform = (): string => `${os.platform()}-${os.arch()}`;
