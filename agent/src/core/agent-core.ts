// The device agent, platform-neutral (design §5): composes the parts — trust.ts (what it accepts),
// updater/ (download → verify → self-test → activate → probation → rollback), serving.ts (inference),
// predictions.ts (label joins) and reporter.ts (reported state, events, outbox) — over one shared state
// (context.ts), hands inbound messages to inbound.ts, and runs the lifecycle. It is handed a Transport, an
// InferenceRuntime, an AgentStore and a Clock; it imports nothing platform-specific.

import { createSha256, toEdgefleetError, topics, type DeviceEvent, type ReportedState } from '@edgefleet/protocol';
import type { AgentContext, AgentState } from './context.js';
import { createDocumentSaver } from './document-saver.js';
import { createInbound } from './inbound.js';
import { sha256With, type IncrementalSha256 } from './downloader.js';
import { tensorMeta, type FeedbackBody, type InferResponse, type InferenceService, type ModelMetadata, type ServerMetadata } from './inference-service.js';
import type { AgentStore, Clock, Transport } from './ports.js';
import { systemClock } from './ports.js';
import { createPredictions } from './predictions.js';
import { createCapture } from './capture.js';
import { AGENT_VERSION, createReporter } from './reporter.js';
import type { InferenceRuntime } from './runtime.js';
import { checkFeeds, createServing, type InferOptions, type InferResult } from './serving.js';
import {
  EXPLAIN_LIMITS,
  EdgefleetError,
  decodeInferInputs,
  encodeOutputs,
  requestedOutputNames,
  type ExplainOptions,
  type OipExplainRequest,
  type OipExplainResponse,
  type OipInferRequest,
  type Tensor,
} from '@edgefleet/protocol';
import { explainPrediction } from './explain.js';
import { createTrust } from './trust.js';
import { settingsOf, type ModelSlot } from './update-plan.js';
import { createUpdater, restoreSlots } from './updater/index.js';

export { AGENT_VERSION } from './reporter.js';
export type { InferOptions, InferResult } from './serving.js';

/** What `explainFeeds` is told: which version, an id to echo, and what to explain (design §5 explanations). */
export interface ExplainCallOptions extends ExplainOptions {
  version?: string;
  id?: string;
}

export interface AgentCoreOptions {
  deviceId: string;
  /** Pinned root public key (design §3). */
  rootPublicKey: Uint8Array;
  transport: Transport;
  runtime: InferenceRuntime;
  store: AgentStore;
  clock?: Clock;
  platform?: string;
  /** Hub base URL and device credentials for the HTTP range download path (design §8). */
  http?: { baseUrl?: string; username: string; password: string };
  download?: { window?: number; timeoutMs?: number; maxIdleRounds?: number; prefer?: 'mqtt' | 'http'; fetch?: typeof fetch; multicast?: boolean; holdBytes?: number };
  /** sha256 for artifacts and desired states (default: the protocol's pure-JS one; Node passes node:crypto's). */
  sha256Stream?: () => IncrementalSha256;
  /**
   * Install retry backoff after a failed download or verification (doubles, with jitter); after DISK_FULL,
   * free space is checked every `diskPollMs` (default 5 s) and the install resumes once there is room.
   */
  retry?: { baseMs?: number; maxMs?: number; diskPollMs?: number };
  /** Outbox bound in windows; oldest dropped first (design §5). */
  outboxMaxWindows?: number;
  /** With telemetry `confirm`: a PUBACKed batch not confirmed by the hub this long is sent again (default 30 s). */
  telemetryConfirmTimeoutMs?: number;
  /** Agent starts during one probation that count as a crash loop (design §5). */
  maxProbationRestarts?: number;
  /** Shadow copies waiting to run, at most; more are dropped and counted (design §5). */
  shadowQueueSize?: number;
  /** Predictions remembered in memory for feedback joins (older ones are looked up in the store). */
  predictionMemory?: number;
  resources?: () => Promise<ReportedState['resources']>;
  /**
   * Command `batch` (design §4): run the active model `model` over the device file `path` names; resolves to
   * the version it ran and the summary for the `batch-finished` event. Without it every batch is refused.
   */
  batch?: (model: string, path: string) => Promise<{ version: string; message: string }>;
  /** The device's own say over field-data capture (agent config `capture`; design §4): off wins over any policy. */
  capture?: { enabled?: boolean; maxDiskBytes?: number };
  /** Every event the agent emits, as it emits it (a page's event feed); it is also logged and sent to the hub. */
  onEvent?: (event: DeviceEvent) => void;
  log?: (line: string) => void;
  random?: () => number;
}

export interface AgentCore extends InferenceService {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Library inference (design §5): the hot path, benchmarked against bare `session.run()`. */
  run(name: string, feeds: Record<string, Tensor>, options?: InferOptions): Promise<InferResult>;
  label(name: string, id: string, label: string | number): Promise<void>;
  /** The device-side capture switch (design §4 capture), kept in the store across restarts; off drops every row not sent yet. */
  setCapture(enabled: boolean): Promise<void>;
  readonly captureEnabled: boolean;
  /**
   * Library explanation (design §5): Shapley attributions of one prediction of the served model, offline.
   * At most EXPLAIN_LIMITS.concurrent at once; another is refused with RATE_LIMITED.
   */
  explainFeeds(name: string, feeds: Record<string, Tensor>, options?: ExplainCallOptions): Promise<OipExplainResponse>;
  /** Close all telemetry windows now and push the outbox (command `flush-telemetry`). */
  flushTelemetry(): Promise<void>;
  slots(): Record<string, ModelSlot>;
  reported(): ReportedState;
  /** Resolves once `predicate` holds after some state change (tests, tooling). */
  waitFor(predicate: (core: AgentCore) => boolean, timeoutMs?: number): Promise<void>;
  readonly counters: Record<string, number>;
}

export function createAgentCore(options: AgentCoreOptions): AgentCore {
  const { deviceId, transport, runtime, store } = options;
  const clock = options.clock ?? systemClock;
  const log = options.log ?? (() => {});
  const newHasher = options.sha256Stream ?? createSha256;

  const state: AgentState = {
    running: false,
    startedAt: 0,
    connectedAt: Number.MIN_SAFE_INTEGER,
    subscribed: false,
    slots: {},
    served: new Map(),
    keyring: null,
    desired: null,
    refusal: null,
    settings: settingsOf(undefined),
    closedWindows: [],
    perfOrigin: clock.now() - performance.now(),
    download: null,
  };
  const counters: Record<string, number> = {};
  const waiters = new Set<() => void>();
  let chain: Promise<unknown> = Promise.resolve();

  // design §5 offline first: a write the store refuses (a full disk) is kept and saved again on every tick
  const saver = createDocumentSaver({ store, clock, log, count: (name) => ctx.count(name), report: (code, message) => reporter.emit('error', message, { code }) });
  const ctx: AgentContext = {
    deviceId,
    transport,
    runtime,
    store,
    clock,
    log,
    random: options.random ?? Math.random,
    digestOf: (bytes) => sha256With(newHasher, bytes),
    state,
    count(name, n = 1) {
      counters[name] = (counters[name] ?? 0) + n;
    },
    changed() {
      for (const w of [...waiters]) w();
    },
    setSlot(slot) {
      state.slots = { ...state.slots, [slot.name]: slot };
      reporter.scheduleReport();
      ctx.changed();
    },
    saveSlots: async () => {
      await saver.save('slots', state.slots);
    },
    persist: saver.save,
    storageFailed: saver.failed,
    emit: (type, message, extra) => reporter.emit(type, message, extra),
    enqueue<T>(fn: () => Promise<T>): Promise<T> {
      const p = chain.then(fn, fn);
      chain = p.catch(() => {});
      return p;
    },
  };

  const capture = createCapture(ctx, { enabled: options.capture?.enabled ?? true, ...(options.capture?.maxDiskBytes !== undefined ? { maxDiskBytes: options.capture.maxDiskBytes } : {}) });
  const predictions = createPredictions(ctx, {
    memory: options.predictionMemory ?? 10_000,
    flushOutbox: () => reporter.flushOutbox(),
    onLabel: (rec, id, actual, label) => capture.labelled(rec, id, actual, label),
  });
  const reporter = createReporter(ctx, {
    platform: options.platform,
    resources: options.resources,
    outboxMaxWindows: options.outboxMaxWindows ?? 10_000,
    confirmTimeoutMs: options.telemetryConfirmTimeoutMs ?? 30_000,
    predictions,
    capture,
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
  });
  const serving = createServing(ctx, { shadowQueueSize: options.shadowQueueSize ?? 64, predictions, capture, onProbationError: (name) => updater.judge(name) });
  const updater = createUpdater(ctx, {
    serving,
    scheduleReport: reporter.scheduleReport,
    download: { ...options.download, sha256Stream: newHasher, http: options.http },
    retryBaseMs: options.retry?.baseMs ?? 1000,
    retryMaxMs: options.retry?.maxMs ?? 5 * 60_000,
    diskPollMs: options.retry?.diskPollMs ?? 5000,
  });
  const trust = createTrust(ctx, { rootPublicKey: options.rootPublicKey, scheduleReport: reporter.scheduleReport, onPendingDesired: (raw) => inbound.onDesired(raw) });

  const inbound = createInbound(ctx, { trust, updater, reporter, flushTelemetry, batch: runBatchCommand });

  // one batch at a time, off the command queue: a long batch never holds up an install or a rollback
  let batching = false;
  function runBatchCommand(model: string, path: string): void {
    const refuse = (code: 'UNAVAILABLE' | 'CONFLICT', why: string): void => reporter.emit('error', `batch ${model} over ${path} refused: ${why}`, { model, code });
    if (!options.batch) return refuse('UNAVAILABLE', 'this agent runs no batch commands');
    if (batching) return refuse('CONFLICT', 'another batch is running');
    batching = true;
    options
      .batch(model, path)
      .then(
        (r) => reporter.emit('batch-finished', r.message, { model, version: r.version }),
        (err: unknown) => {
          const e = toEdgefleetError(err);
          reporter.emit('error', `batch ${model} over ${path}: ${e.message}`, { model, code: e.code });
        },
      )
      .finally(() => {
        batching = false;
      });
  }

  let explaining = 0;
  async function explainFeeds(name: string, feeds: Record<string, Tensor>, options: ExplainCallOptions = {}): Promise<OipExplainResponse> {
    // bounded: each runs up to EXPLAIN_LIMITS.evaluations rows; one over the cap is refused, not queued
    if (explaining >= EXPLAIN_LIMITS.concurrent) {
      throw new EdgefleetError('RATE_LIMITED', `${explaining} explanations are running; at most ${EXPLAIN_LIMITS.concurrent} at once`);
    }
    explaining++;
    try {
      const { version, id, ...what } = options;
      return await serving.use(name, version, async (live) => {
        checkFeeds(live.manifest.io.inputs, feeds);
        const explanation = await explainPrediction(live.session, live.manifest, feeds, what);
        ctx.count('explanations');
        return { model_name: name, model_version: live.ref.version, ...(id !== undefined ? { id } : {}), ...explanation };
      });
    } finally {
      explaining--;
    }
  }

  async function flushTelemetry(): Promise<void> {
    serving.rotateAll(true);
    await reporter.flushOutbox();
  }

  // ---------- lifecycle ----------

  let tickTimer: unknown = null;
  function tick(): void {
    tickTimer = null;
    if (!state.running) return;
    state.perfOrigin = clock.now() - performance.now();
    serving.rotateAll(false);
    if (saver.unsaved > 0) void saver.retry();
    void reporter.flushOutbox();
    updater.checkProbations();
    tickTimer = clock.setTimeout(tick, Math.min(1000, Math.max(50, state.settings.windowSeconds * 500)));
  }

  async function restore(): Promise<void> {
    await reporter.restore();
    await trust.restore();
    state.slots = (await store.get<Record<string, ModelSlot>>('slots')) ?? {};
    // the device-side switch set at run time (setCapture) outlives a restart; the config's `false` always wins
    const captureSwitch = await store.get<boolean>('capture.enabled');
    if (captureSwitch === false || options.capture?.enabled === false) capture.setEnabled(false);
    const crashed = (await store.get<boolean>('cleanStop')) !== true;
    // start-up needs no free byte (design §5 offline first): a write refused here is retried by the tick
    await saver.save('cleanStop', false);
    await restoreSlots(ctx, serving, options.maxProbationRestarts ?? 3, crashed);
  }

  const core: AgentCore = {
    counters,

    async start() {
      if (state.running) return;
      state.startedAt = clock.now();
      await restore();
      state.running = true;
      transport.onMessage(inbound.onMessage);
      transport.onConnect(() => void inbound.onConnected());
      transport.onDisconnect(() => {
        state.subscribed = false;
        ctx.changed();
      });
      tick();
      transport.connect();
      updater.kick();
    },

    async stop() {
      if (!state.running) return;
      state.running = false;
      updater.stop();
      if (tickTimer !== null) clock.clearTimeout(tickTimer);
      reporter.stopTimer();
      serving.rotateAll(true);
      await chain.catch(() => {});
      await reporter.keepTelemetry();
      await saver.retry();
      await saver.save('cleanStop', true);
      if (transport.connected) await transport.publish(topics.status(deviceId), 'offline', { qos: 1, retain: true }).catch(() => {});
      await transport.close();
      serving.retireAll();
    },

    run: serving.run,
    label: predictions.label,
    get captureEnabled() {
      return capture.enabled;
    },
    async setCapture(enabled) {
      await store.put('capture.enabled', enabled);
      capture.setEnabled(enabled && options.capture?.enabled !== false);
      // off means nothing more leaves: rows still waiting in the outbox go too (counted as disk drops)
      if (!enabled) await store.captureAppend?.([], 0, { quota: 0, oversized: 0 });
    },
    explainFeeds,
    flushTelemetry,

    slots: () => state.slots,
    reported: reporter.buildReported,

    waitFor(predicate, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        if (predicate(core)) return resolve();
        // re-checked on every state change, and every 25 ms for conditions outside the agent
        const poll = setInterval(() => check(), 25);
        const timer = setTimeout(() => {
          waiters.delete(check);
          clearInterval(poll);
          reject(new Error(`waitFor timed out after ${timeoutMs} ms; slots: ${JSON.stringify(state.slots)}`));
        }, timeoutMs);
        const check = (): void => {
          if (!predicate(core)) return;
          clearTimeout(timer);
          clearInterval(poll);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
      });
    },

    // ---- InferenceService (consumed by the local OIP API) ----

    serverMetadata(): ServerMetadata {
      return { name: 'edgefleet-agent', version: AGENT_VERSION, extensions: ['edgefleet-feedback', 'edgefleet-explain'] };
    },
    isLive: () => true,
    isReady: () => state.running,
    listModels: () => [...state.served.entries()].filter(([, s]) => s.active).map(([name]) => name),
    modelMetadata(name, version): ModelMetadata | null {
      const s = state.served.get(name);
      if (!s?.active) return null;
      const versions = [s.active.ref.version, ...(s.shadow ? [s.shadow.ref.version] : [])];
      const live = version === undefined ? s.active : [s.active, s.shadow].find((l) => l?.ref.version === version);
      if (!live) return null;
      return { name, versions, platform: 'onnxruntime_onnx', inputs: live.manifest.io.inputs.map(tensorMeta), outputs: live.manifest.io.outputs.map(tensorMeta) };
    },
    isModelReady(name, version) {
      try {
        serving.pick(name, version);
        return true;
      } catch {
        return false;
      }
    },
    async infer(name, request: OipInferRequest, version): Promise<InferResponse> {
      const live = serving.pick(name, version);
      const feeds = decodeInferInputs(live.manifest.io.inputs, request.inputs);
      const names = requestedOutputNames(live.manifest.io.outputs, request.outputs);
      const r = await serving.run(name, feeds, { ...(version !== undefined ? { version } : {}), ...(request.id !== undefined ? { id: request.id } : {}), ...(names ? { outputs: names } : {}) });
      return { model_name: name, model_version: r.version, id: r.id, outputs: encodeOutputs(r.outputs, names ?? live.manifest.io.outputs.map((o) => o.name)) };
    },
    async explain(name, request: OipExplainRequest, version): Promise<OipExplainResponse> {
      const live = serving.pick(name, version);
      const feeds = decodeInferInputs(live.manifest.io.inputs, request.inputs);
      return explainFeeds(name, feeds, { ...request.parameters, ...(version !== undefined ? { version } : {}), ...(request.id !== undefined ? { id: request.id } : {}) });
    },
    async feedback(name, body: FeedbackBody) {
      await predictions.label(name, body.id, body.label);
    },
  };
  return core;
}
