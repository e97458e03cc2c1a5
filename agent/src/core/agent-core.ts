// The device agent, platform-neutral (design §5): verifies keyrings, desired states and commands, runs the
// update state machine of update-plan.ts (download → verify → self-test → activate → probation → rollback),
// serves inference with telemetry, and keeps presence, reported state, events and the outbox flowing.
// It is handed a Transport, an InferenceRuntime, an AgentStore and a Clock; it imports nothing platform-specific.

import {
  EdgefleetError,
  LIMITS,
  createSha256,
  toEdgefleetError,
  parseTopic,
  topics,
  verifyCommand,
  verifyDesiredState,
  verifyKeyring,
  type DeviceEvent,
  type ErrorCode,
  type Keyring,
  type Manifest,
  type ReportedModel,
  type ReportedState,
  type TelemetrySettings,
  type TelemetryWindow,
  type TensorSpec,
} from '@edgefleet/protocol';
import { createDocumentSaver } from './document-saver.js';
import { createDownloader, sha256With, type DownloadControl, type IncrementalSha256 } from './downloader.js';
import {
  tensorMeta,
  type FeedbackBody,
  type InferResponse,
  type InferenceService,
  type ModelMetadata,
  type ServerMetadata,
} from './inference-service.js';
import type { AgentStore, Clock, PredictionRecord, Transport } from './ports.js';
import { systemClock } from './ports.js';
import type { InferenceRuntime, ModelSession } from './runtime.js';
import { decodeInferInputs, encodeOutputs, requestedOutputNames, tensorMismatch, tensorFromData, type OipInferRequest, type Tensor } from './tensor.js';
import { createModelTelemetry, labelDeltaWindow, windowAddLabel, type ModelTelemetry } from './telemetry-recorder.js';
import {
  activated,
  activeRemoved,
  activeUnusable,
  desiredArrived,
  downloadProgressed,
  downloadStarted,
  emptySlot,
  fellBackToPrevious,
  installAbandoned,
  installFailed,
  onAgentStart,
  planUpdates,
  previousUnusable,
  probationPassed,
  probationVerdict,
  refused,
  rolledBack,
  selfTesting,
  settingsOf,
  shadowRemoved,
  shadowStarted,
  verifying,
  type InstallTask,
  type ModelSlot,
  type VersionRef,
  type WantedModel,
} from './update-plan.js';

export const AGENT_VERSION = '0.1.0';

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
  log?: (line: string) => void;
  random?: () => number;
}

export interface InferOptions {
  version?: string;
  id?: string;
  outputs?: readonly string[];
}

export interface InferResult {
  model: string;
  version: string;
  id: string;
  outputs: Record<string, Tensor>;
}

interface Live {
  name: string;
  ref: VersionRef;
  manifest: Manifest;
  session: ModelSession;
  telemetry: ModelTelemetry;
  role: 'active' | 'shadow';
  inflight: number;
  retired: boolean;
  /** Counting toward the probation verdict (design §5). */
  onProbation: boolean;
  /** The ring's shared (model, version, role, window) record for this window's predictions. */
  ringWindow: { model: string; version: string; role: 'active' | 'shadow'; start: number; end: number } | null;
}

interface Served {
  active: Live | null;
  shadow: Live | null;
  stats: { inferences: number; errors: number };
  shadowQueued: number;
}

interface StoredKeyring {
  raw: string;
  keyring: Keyring;
}

interface StoredDesired {
  sequence: number;
  digest: string;
  models: WantedModel[];
  telemetry: Partial<TelemetrySettings> | undefined;
}

const INSTALLING = new Set(['downloading', 'verifying', 'self-testing']);


function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

export interface AgentCore extends InferenceService {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Library inference (design §5): the hot path, benchmarked against bare `session.run()`. */
  run(name: string, feeds: Record<string, Tensor>, options?: InferOptions): Promise<InferResult>;
  label(name: string, id: string, label: string | number): Promise<void>;
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
  const random = options.random ?? Math.random;
  const outboxMax = options.outboxMaxWindows ?? 10_000;
  const confirmTimeoutMs = options.telemetryConfirmTimeoutMs ?? 30_000;
  const maxRestarts = options.maxProbationRestarts ?? 3;
  const shadowQueueSize = options.shadowQueueSize ?? 64;
  const predictionMemory = options.predictionMemory ?? 10_000;
  const retryBase = options.retry?.baseMs ?? 1000;
  const retryMax = options.retry?.maxMs ?? 5 * 60_000;
  const diskPollMs = options.retry?.diskPollMs ?? 5000;
  const newHasher = options.sha256Stream ?? createSha256;
  const digestOf = (bytes: Uint8Array): string => sha256With(newHasher, bytes);

  let slots: Record<string, ModelSlot> = {};
  const served = new Map<string, Served>();
  let keyring: StoredKeyring | null = null;
  let desired: StoredDesired | null = null;
  let commandSequence = 0;
  let pendingDesired: Uint8Array | null = null;
  let refusal: { code: ErrorCode; message: string } | null = null;
  let settings = settingsOf(undefined);
  let running = false;
  let startedAt = 0;

  const counters: Record<string, number> = {};
  const count = (name: string, n = 1): void => {
    counters[name] = (counters[name] ?? 0) + n;
  };

  const events: DeviceEvent[] = [];
  const closedWindows: TelemetryWindow[] = [];
  // Recent predictions for feedback joins, in a ring indexed by call number, kept as parallel arrays
  // (design §6 labels joined by prediction id): the hot path writes a number, a class and one pointer
  // to the (model, version, role, window) it landed in — no per-call object, few cold cache lines.
  // Agent-assigned ids are `bootPrefix + n`; caller-chosen ids map to n through a Map.
  type RingWindow = Omit<PredictionRecord, 'predicted'>;
  const ringN = new Float64Array(predictionMemory);
  const ringPredicted = new Float64Array(predictionMemory);
  const ringWindow: (RingWindow | undefined)[] = new Array<RingWindow | undefined>(predictionMemory).fill(undefined);
  const ringId: (string | undefined)[] = new Array<string | undefined>(predictionMemory).fill(undefined);
  const customIds = new Map<string, number>();
  let persistedUpTo = 0;
  /** Wall clock = perfOrigin + performance.now(): the hot path reads one clock, not two (refreshed every tick). */
  let perfOrigin = clock.now() - performance.now();
  const bootPrefix = `${Math.floor(random() * 0xffffffff).toString(36)}-`;
  let predictionCounter = 0;

  function ringRecord(n: number): PredictionRecord | undefined {
    const slot = n % predictionMemory;
    const w = ringWindow[slot];
    if (w === undefined || ringN[slot] !== n) return undefined;
    return { model: w.model, version: w.version, role: w.role, start: w.start, end: w.end, predicted: ringPredicted[slot]! };
  }

  function ringLookup(id: string): PredictionRecord | undefined {
    let n = customIds.get(id);
    if (n === undefined && id.startsWith(bootPrefix)) {
      const k = Number(id.slice(bootPrefix.length));
      if (Number.isInteger(k)) n = k;
    }
    return n === undefined ? undefined : ringRecord(n);
  }

  /** Predictions since the last persist (the newest 4096 at most), for feedback after a restart. */
  function unpersistedPredictions(): [string, PredictionRecord][] {
    const out: [string, PredictionRecord][] = [];
    const from = Math.max(persistedUpTo + 1, predictionCounter - Math.min(4096, predictionMemory) + 1);
    for (let n = from; n <= predictionCounter; n++) {
      const rec = ringRecord(n);
      if (rec) out.push([ringId[n % predictionMemory] ?? bootPrefix + String(n), rec]);
    }
    persistedUpTo = predictionCounter;
    return out;
  }

  const waiters = new Set<() => void>();
  const changed = (): void => {
    for (const w of [...waiters]) w();
  };

  const downloader = createDownloader({
    deviceId,
    transport,
    store,
    clock,
    window: options.download?.window,
    timeoutMs: options.download?.timeoutMs,
    maxIdleRounds: options.download?.maxIdleRounds,
    prefer: options.download?.prefer,
    fetch: options.download?.fetch,
    multicast: options.download?.multicast,
    holdBytes: options.download?.holdBytes,
    sha256Stream: newHasher,
    http: options.http,
    random,
    log,
  });

  // ---------- persistence ----------

  // design §5 offline first: a write the store refuses (a full disk) is kept and saved again on every tick
  const saver = createDocumentSaver({ store, clock, log, count, report: (code, message) => emit('error', message, { code }) });
  const persist = saver.save;
  const storageFailed = saver.failed;

  async function saveSlots(): Promise<void> {
    await persist('slots', slots);
  }

  function setSlot(slot: ModelSlot): void {
    slots = { ...slots, [slot.name]: slot };
    scheduleReport();
    changed();
  }

  // ---------- presence, reported, events (design §4) ----------

  let reportTimer: unknown = null;
  function scheduleReport(): void {
    if (reportTimer !== null || !running) return;
    reportTimer = clock.setTimeout(() => {
      reportTimer = null;
      void publishReported();
    }, 20);
  }

  function reportedModel(slot: ModelSlot): ReportedModel {
    const m: ReportedModel = {
      active: slot.active && { version: slot.active.version, release: slot.active.release, sha256: slot.active.sha256 },
      previous: slot.previous && { version: slot.previous.version, release: slot.previous.release, sha256: slot.previous.sha256 },
      shadow: slot.shadow && { version: slot.shadow.version, release: slot.shadow.release, sha256: slot.shadow.sha256 },
      pending: slot.pending && { version: slot.pending.version, release: slot.pending.release, sha256: slot.pending.sha256 },
      state: slot.state,
      error: slot.error ? { code: slot.error.code, message: clip(slot.error.message, 1024) } : null,
    };
    if (slot.progress !== undefined) m.progress = Math.max(0, Math.min(1, slot.progress));
    if (slot.rolloutId !== undefined) m.rolloutId = slot.rolloutId;
    return m;
  }

  let lastResources: ReportedState['resources'] = {};
  function buildReported(): ReportedState {
    const models: Record<string, ReportedModel> = {};
    for (const slot of Object.values(slots)) models[slot.name] = reportedModel(slot);
    const r: ReportedState = {
      deviceId,
      agentVersion: AGENT_VERSION,
      runtime: clip(runtime.name, 64),
      platform: clip(options.platform ?? 'unknown', 64),
      desiredSequence: desired?.sequence ?? 0,
      keyringVersion: keyring?.keyring.version ?? 0,
      models,
      resources: { ...lastResources, uptimeSeconds: Math.max(0, (clock.now() - startedAt) / 1000) },
      at: new Date(clock.now()).toISOString(),
    };
    if (refusal) (r as ReportedState & { refusal?: unknown }).refusal = refusal;
    return r;
  }

  async function publishReported(): Promise<void> {
    if (!transport.connected) return;
    try {
      if (options.resources) lastResources = await options.resources();
      await transport.publish(topics.reported(deviceId), JSON.stringify(buildReported()), { qos: 1, retain: true });
    } catch (err) {
      log(`reported not published: ${String(err)}`);
    }
  }

  function emit(type: DeviceEvent['type'], message: string, extra: { model?: string; version?: string; code?: ErrorCode } = {}): void {
    const ev: DeviceEvent = { type, message: clip(message, 2048), at: new Date(clock.now()).toISOString(), ...extra };
    log(`event ${type}${extra.code ? ` ${extra.code}` : ''}: ${message}`);
    events.push(ev);
    if (events.length > 256) {
      events.shift(); // bounded while offline; the oldest event is the least useful
      count('eventsDropped');
    }
    count(`event.${type}`);
    saveEvents();
    void flushEvents();
    changed();
  }

  /**
   * Unsent events live in the store too, so an agent that crashes or stops while offline still reports
   * why it rolled back once it reconnects (at least once: a crash between publish and save sends one again).
   */
  function saveEvents(): void {
    store.put('events', events.slice()).catch((err: unknown) => storageFailed('saving events', err));
  }

  let flushingEvents = false;
  async function flushEvents(): Promise<void> {
    if (flushingEvents || !transport.connected) return;
    flushingEvents = true;
    try {
      while (events.length > 0 && transport.connected) {
        const ev = events[0]!;
        await transport.publish(topics.events(deviceId), JSON.stringify(ev), { qos: 1 });
        events.shift();
        saveEvents();
      }
    } catch (err) {
      log(`events not published: ${String(err)}`);
    } finally {
      flushingEvents = false;
    }
  }

  // ---------- sessions ----------

  function servedOf(name: string): Served {
    let s = served.get(name);
    if (!s) {
      s = { active: null, shadow: null, stats: { inferences: 0, errors: 0 }, shadowQueued: 0 };
      served.set(name, s);
    }
    return s;
  }

  function retire(live: Live | null): void {
    if (!live) return;
    live.retired = true;
    const closed = live.telemetry.rotate(clock.now(), true);
    if (closed) closedWindows.push(closed);
    // In-flight requests finish on the old session; the last one out releases it (design §5 atomic swap).
    if (live.inflight === 0) void live.session.release().catch(() => {});
  }

  function makeLive(name: string, manifest: Manifest, session: ModelSession, role: 'active' | 'shadow'): Live {
    return {
      name,
      ref: { version: manifest.version, release: manifest.release, sha256: manifest.artifact.sha256 },
      manifest,
      session,
      telemetry: createModelTelemetry(manifest, role, settings.windowSeconds * 1000, clock.now()),
      role,
      inflight: 0,
      retired: false,
      onProbation: false,
      ringWindow: null,
    };
  }

  /** Verified bytes of an installed artifact: the sha256 is re-checked on every load (design §5 offline first). */
  async function readVerified(ref: VersionRef): Promise<Uint8Array> {
    const bytes = await store.readArtifact(ref.sha256);
    if (!bytes) throw new EdgefleetError('NOT_FOUND', `artifact ${ref.sha256.slice(0, 12)}… is not on disk`);
    if (digestOf(bytes) !== ref.sha256) throw new EdgefleetError('HASH_MISMATCH', `artifact ${ref.sha256.slice(0, 12)}… on disk is damaged`);
    return bytes;
  }

  async function loadSession(model: Uint8Array | (() => Promise<ModelSession>)): Promise<ModelSession> {
    try {
      return await (typeof model === 'function' ? model() : runtime.load(model));
    } catch (err) {
      throw toEdgefleetError(err, 'MODEL_LOAD_FAILED');
    }
  }

  async function selfTest(session: ModelSession, manifest: Manifest): Promise<void> {
    const feeds: Record<string, Tensor> = {};
    for (const t of manifest.selfTest.inputs) feeds[t.name] = tensorFromData(t);
    let outs: Record<string, Tensor>;
    try {
      outs = await session.run(feeds, manifest.selfTest.outputs.map((o) => o.name));
    } catch (err) {
      throw new EdgefleetError('SELF_TEST_FAILED', `self-test run failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    for (const expected of manifest.selfTest.outputs) {
      const actual = outs[expected.name];
      if (!actual) throw new EdgefleetError('SELF_TEST_FAILED', `self-test output '${expected.name}' missing`);
      const why = tensorMismatch(expected, actual, manifest.selfTest.tolerance);
      if (why) throw new EdgefleetError('SELF_TEST_FAILED', `self-test: ${why}`);
    }
  }

  async function manifestOf(sha256: string): Promise<Manifest | undefined> {
    return (await store.get<{ manifest: Manifest }>(`manifest:${sha256}`))?.manifest;
  }

  async function loadLive(name: string, ref: VersionRef, role: 'active' | 'shadow'): Promise<Live> {
    const manifest = await manifestOf(ref.sha256);
    if (!manifest) throw new EdgefleetError('NOT_FOUND', `no manifest stored for ${name}@${ref.version}`);
    const session = await loadSession(await readVerified(ref));
    return makeLive(name, manifest, session, role);
  }

  // ---------- telemetry and outbox (design §6) ----------

  function rotateAll(force: boolean): void {
    const now = clock.now();
    for (const s of served.values()) {
      for (const live of [s.active, s.shadow]) {
        if (!live) continue;
        const w = live.telemetry.rotate(now, force);
        if (w) closedWindows.push(w);
      }
    }
  }

  /** The desired state changed the window length: close the current windows, open ones of the new length. */
  function rewindow(): void {
    rotateAll(true);
    const now = clock.now();
    for (const s of served.values()) {
      for (const live of [s.active, s.shadow]) {
        if (live) live.telemetry = createModelTelemetry(live.manifest, live.role, settings.windowSeconds * 1000, now);
      }
    }
  }

  // the last (re)connect: batches PUBACKed before it may have died with the broker's queue (design §4)
  let connectedAt = Number.MIN_SAFE_INTEGER;
  let flushingOutbox = false;
  async function flushOutbox(): Promise<void> {
    if (flushingOutbox) return;
    flushingOutbox = true;
    try {
      if (persistedUpTo < predictionCounter) await store.putPredictions(unpersistedPredictions()).catch((err: unknown) => storageFailed('saving predictions', err));
      if (closedWindows.length > 0) {
        const windows = closedWindows.splice(0, closedWindows.length);
        let dropped: number;
        try {
          dropped = await store.outboxAppend(windows, outboxMax);
        } catch (err) {
          // not queued: kept in memory (bounded like the outbox) until the store takes them
          closedWindows.unshift(...windows);
          const over = closedWindows.length - outboxMax;
          if (over > 0) {
            closedWindows.splice(0, over);
            count('outboxDropped', over);
          }
          storageFailed('queueing telemetry', err);
          return;
        }
        count('windowsQueued', windows.length);
        if (dropped > 0) {
          count('outboxDropped', dropped);
          emit('outbox-dropped', `telemetry outbox full: dropped ${dropped} oldest window(s)`);
        }
      }
      while (transport.connected) {
        // design §4: with `confirm`, a PUBACKed batch waits for the hub's confirmation and goes again (same
        // seq, de-duplicated by the hub) after a timeout or a reconnect; without it, sent ones go again now
        const confirm = settings.confirm === true;
        const resendBefore = confirm ? Math.max(clock.now() - confirmTimeoutMs, connectedAt) : Number.MAX_SAFE_INTEGER;
        const batch = await store.outboxNext(LIMITS.windowsPerBatch, LIMITS.telemetry - 4096, resendBefore);
        if (!batch) break;
        const body = JSON.stringify({ deviceId, seq: batch.seq, windows: batch.windows, dropped: batch.dropped, ...(confirm ? { confirm } : {}) });
        await transport.publish(topics.telemetry(deviceId), body, { qos: 1 });
        if (confirm) await store.outboxSent(batch.seq, clock.now());
        else await store.outboxAck(batch.seq);
        count(batch.resent ? 'batchesResent' : 'batchesSent');
        if (!batch.resent) count('windowsSent', batch.windows.length);
      }
    } catch (err) {
      if (toEdgefleetError(err).code === 'DISK_FULL') storageFailed('sending telemetry', err);
      else log(`outbox not drained: ${String(err)}`);
    } finally {
      flushingOutbox = false;
    }
  }

  let tickTimer: unknown = null;
  function tick(): void {
    tickTimer = null;
    if (!running) return;
    perfOrigin = clock.now() - performance.now();
    rotateAll(false);
    if (saver.unsaved > 0) void saver.retry();
    void flushOutbox();
    checkProbations();
    tickTimer = clock.setTimeout(tick, Math.min(1000, Math.max(50, settings.windowSeconds * 500)));
  }

  // ---------- probation (design §5 watch and roll back) ----------

  function checkProbations(): void {
    for (const slot of Object.values(slots)) {
      if (slot.probation && slot.active?.sha256 === slot.probation.sha256) judge(slot.name);
    }
  }

  function judge(name: string): void {
    const slot = slots[name];
    const s = served.get(name);
    if (!slot?.probation || !s) return;
    const v = probationVerdict(slot.probation, s.stats, settings, clock.now());
    if (v.kind === 'continue') return;
    if (v.kind === 'pass') {
      if (s.active) s.active.onProbation = false;
      setSlot(probationPassed(slot));
      void saveSlots();
      emit('probation-passed', `${name}@${slot.active?.version} passed probation`, { model: name, version: slot.active?.version });
      return;
    }
    // The rollback runs after whatever is queued before it: if a newer desired state has already
    // switched versions (e.g. the hub rolled this wave back), the verdict is stale and must not undo that.
    const judged = slot.probation.sha256;
    void enqueue(() => rollback(name, { code: 'PROBATION_FAILED', message: v.reason }, undefined, judged));
  }

  async function rollback(
    name: string,
    error: { code: ErrorCode; message: string } | null,
    reason?: string,
    onlyIfActiveSha?: string,
  ): Promise<void> {
    const slot = slots[name];
    if (!slot?.active || slot.state === 'rolled-back' && !slot.probation && error?.code === 'PROBATION_FAILED') return;
    if (onlyIfActiveSha !== undefined && slot.active.sha256 !== onlyIfActiveSha) return;
    const why = reason ?? error?.message ?? 'rollback';
    if (!slot.previous) {
      emit('error', `cannot roll back ${name}: no previous version on this device (${why})`, { model: name });
      return;
    }
    const failed = slot.active;
    let live: Live;
    try {
      live = await loadLive(name, slot.previous, 'active');
    } catch (err) {
      const e = toEdgefleetError(err);
      emit('load-failed', `rollback of ${name} to ${slot.previous.version} failed: ${e.message}`, { model: name, code: e.code });
      return;
    }
    const s = servedOf(name);
    const old = s.active;
    s.active = live;
    s.stats = { inferences: 0, errors: 0 };
    retire(old);
    setSlot(rolledBack(slot, error ?? null));
    await saveSlots();
    emit('rolled-back', `${name} ${failed.version} → ${live.ref.version}: ${why}`, { model: name, version: failed.version, ...(error ? { code: error.code } : {}) });
  }

  // ---------- update execution ----------

  let chain: Promise<unknown> = Promise.resolve();
  /** One state-changing step at a time: verification, installs and rollbacks never interleave. */
  function enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const p = chain.then(fn, fn);
    chain = p.catch(() => {});
    return p;
  }

  const attempts = new Map<string, number>();
  let retryTimer: unknown = null;
  let current: { sha256: string; control: DownloadControl } | null = null;
  let reconciling = false;
  let reconcileAgain = false;

  function kick(): void {
    if (!running) return;
    if (reconciling) {
      reconcileAgain = true;
      return;
    }
    reconciling = true;
    void (async () => {
      try {
        do {
          reconcileAgain = false;
          await reconcileOnce();
        } while (reconcileAgain && running);
      } catch (err) {
        // whatever failed (a store write, most likely) is tried again later; the agent keeps serving
        log(`reconcile failed: ${String(err)}`);
        clock.setTimeout(kick, retryBase);
      } finally {
        reconciling = false;
      }
    })();
  }

  async function reconcileOnce(): Promise<void> {
    if (!desired) return;
    const plan = planUpdates(slots, desired.models);
    for (const name of plan.removeShadow) {
      await enqueue(async () => {
        const s = served.get(name);
        if (s?.shadow) {
          retire(s.shadow);
          s.shadow = null;
        }
        const slot = slots[name];
        if (slot) setSlot(shadowRemoved(slot));
        await saveSlots();
      });
    }
    for (const name of plan.removeActive) {
      await enqueue(async () => {
        const s = served.get(name);
        if (s?.active) {
          retire(s.active);
          s.active = null;
        }
        const slot = slots[name];
        if (slot) setSlot(activeRemoved(slot));
        await saveSlots();
      });
    }
    for (const task of plan.install) {
      if (!running || reconcileAgain) return;
      const n = attempts.get(task.ref.sha256) ?? 0;
      if (n < 0) continue; // waiting for its retry timer
      try {
        await install(task, n);
        attempts.delete(task.ref.sha256);
      } catch (err) {
        const e = toEdgefleetError(err);
        if (!running) return;
        const stillWanted = desired?.models.some((m) => m.role === task.role && m.manifest.artifact.sha256 === task.ref.sha256) ?? false;
        if (!stillWanted) {
          // superseded by a newer desired state while installing: not a failure, just stop
          await enqueue(async () => {
            const slot = slots[task.manifest.model];
            if (slot?.pending?.sha256 === task.ref.sha256) {
              setSlot(installAbandoned(slot));
              await saveSlots();
            }
          });
          continue;
        }
        await enqueue(() => afterInstallFailure(task, e, n));
      }
    }
  }

  async function afterInstallFailure(task: InstallTask, e: EdgefleetError, n: number): Promise<void> {
    const name = task.manifest.model;
    const slot = slots[name] ?? emptySlot(name);
    const permanent = e.code === 'SELF_TEST_FAILED' || e.code === 'MODEL_LOAD_FAILED';
    setSlot(installFailed(slot, task.ref.sha256, { code: e.code, message: e.message }, permanent));
    await saveSlots();
    const type = e.code === 'SELF_TEST_FAILED' ? 'self-test-failed' : e.code === 'MODEL_LOAD_FAILED' ? 'load-failed' : e.code === 'HASH_MISMATCH' || e.code === 'SIZE_MISMATCH' ? 'verification-failed' : 'download-failed';
    emit(type, `${name}@${task.manifest.version}: ${e.message}`, { model: name, version: task.manifest.version, code: e.code });
    if (permanent) return; // verified bytes that fail the same way every time: wait for a newer desired state
    attempts.set(task.ref.sha256, -1);
    if (e.code === 'DISK_FULL') {
      waitForSpace(task, n);
      return;
    }
    // Retry with exponential backoff and jitter.
    const delay = Math.min(retryBase * 2 ** n, retryMax) * (0.5 + random() * 0.5);
    clock.setTimeout(() => {
      attempts.set(task.ref.sha256, n + 1);
      kick();
    }, delay);
  }

  /** Free bytes an install still needs: what the partial download lacks, plus headroom (design §5). */
  async function spaceNeeded(manifest: Manifest): Promise<number> {
    const a = manifest.artifact;
    const have = await downloader.bytesReceived({ sha256: a.sha256, size: a.size, chunkSize: a.chunkSize });
    return (a.size - have) * 1.1 + 1024 * 1024;
  }

  /** After DISK_FULL: a cheap free-space check on a timer, and the install resumes once there is room. */
  function waitForSpace(task: InstallTask, n: number): void {
    const sha = task.ref.sha256;
    const poll = async (): Promise<void> => {
      if (!running || attempts.get(sha) !== -1) return; // stopped, or a newer desired state restarted it
      const free = await store.freeBytes().catch(() => null);
      const need = await spaceNeeded(task.manifest).catch(() => 0);
      if (free === null || free >= need) {
        attempts.set(sha, n); // no backoff growth: the disk, not the download, was the problem
        kick();
        return;
      }
      clock.setTimeout(() => void poll(), diskPollMs);
    };
    clock.setTimeout(() => void poll(), diskPollMs);
  }

  /** `attempt` > 0 is a retry: the last attempt's error stays reported until one succeeds. */
  async function install(task: InstallTask, attempt: number): Promise<void> {
    const name = task.manifest.model;
    const { manifest, ref } = task;
    // written only when new: an artifact already on disk can be activated on a full disk
    const doc = { manifest, envelope: task.envelope };
    if (JSON.stringify(await store.get(`manifest:${ref.sha256}`)) !== JSON.stringify(doc)) await store.put(`manifest:${ref.sha256}`, doc);
    await enqueue(async () => {
      const slot = slots[name] ?? emptySlot(name);
      setSlot(downloadStarted(slot, ref, attempt > 0, task.rolloutId));
      await saveSlots();
    });
    // design §5: check free disk before pulling a byte
    let fresh = false; // verified and committed by this download (not found on disk)
    if (!(await store.hasArtifact(ref.sha256))) {
      // bytes already in the partial download count: a resumed download needs room only for the rest
      const free = await store.freeBytes();
      const need = await spaceNeeded(manifest);
      if (free !== null && free < need) {
        throw new EdgefleetError('DISK_FULL', `need ${Math.ceil(need)} more bytes for ${name}@${manifest.version} (${manifest.artifact.size} in all), ${free} free`);
      }
      const control: DownloadControl = {
        cancelled: false,
        onProgress: (received, total) => {
          const slot = slots[name];
          if (!slot || slot.pending?.sha256 !== ref.sha256) return;
          const progress = total === 0 ? 1 : received / total;
          // quarter steps: every reported state is a retained publish the hub ingests, times a whole wave
          if (slot.progress === undefined || progress - slot.progress >= 0.25 || received === total) setSlot(downloadProgressed(slot, progress));
        },
      };
      current = { sha256: ref.sha256, control };
      const t0 = clock.now();
      try {
        fresh = await downloader.fetchArtifact(
          { sha256: ref.sha256, size: manifest.artifact.size, chunkSize: manifest.artifact.chunkSize, ...(manifest.artifact.urls ? { urls: manifest.artifact.urls } : {}) },
          control,
        );
      } finally {
        current = null;
      }
      log(`${name}@${manifest.version}: ${manifest.artifact.size} bytes downloaded and verified in ${clock.now() - t0} ms`);
    }
    await enqueue(async () => {
      const slot = slots[name] ?? emptySlot(name);
      if (slot.pending?.sha256 !== ref.sha256) throw new EdgefleetError('CONFLICT', 'superseded');
      setSlot(verifying(slot));
      // A runtime hosting many agents (the simulator) may hold one session per model file: bytes the
      // download just verified are read from disk (and checked again) only if it holds none yet.
      const shared = fresh ? runtime.loadShared?.bind(runtime) : undefined;
      const bytes = shared ? null : await readVerified(ref);
      setSlot(selfTesting(slots[name]!));
      await saveSlots();
      // design §5: load in a fresh session → self-test → warm up → swap. Nothing reaches the runtime unverified.
      const t1 = clock.now();
      const session = await loadSession(bytes ?? (() => shared!(ref.sha256, () => readVerified(ref))));
      const t2 = clock.now();
      try {
        await selfTest(session, manifest);
        await selfTest(session, manifest); // warm-up: the first real request must not pay for lazy init
      } catch (err) {
        await session.release().catch(() => {});
        throw err;
      }
      log(`${name}@${manifest.version}: session loaded in ${t2 - t1} ms, self-tested and warmed up in ${clock.now() - t2} ms`);
      const live = makeLive(name, manifest, session, task.role);
      const s = servedOf(name);
      const now = clock.now();
      if (task.role === 'active') {
        const old = s.active;
        const next = activated(slots[name]!, ref, now, settings, task.rolloutId);
        live.onProbation = next.probation !== null;
        s.stats = { inferences: 0, errors: 0 };
        s.active = live; // the swap: one assignment; in-flight requests hold the old Live
        retire(old);
        setSlot(next);
        await saveSlots();
        emit('activated', `${name}@${manifest.version} active${old ? ` (was ${old.ref.version})` : ''}`, { model: name, version: manifest.version });
      } else {
        const old = s.shadow;
        s.shadow = live;
        retire(old);
        setSlot(shadowStarted(slots[name]!, ref));
        await saveSlots();
        emit('shadow-started', `${name}@${manifest.version} running as shadow`, { model: name, version: manifest.version });
      }
      await collectGarbage().catch((err: unknown) => storageFailed('removing unused models', err));
    });
  }

  /**
   * Keep what a slot names (active, previous, shadow, pending) and what the desired state wants; delete the
   * rest, partial downloads included (a superseded download's partial would otherwise stay on a small disk
   * for good; one still wanted is kept, so a restart resumes it).
   */
  async function collectGarbage(): Promise<void> {
    const keep = new Set<string>();
    for (const s of Object.values(slots)) for (const r of [s.active, s.previous, s.shadow, s.pending]) if (r) keep.add(r.sha256);
    for (const m of desired?.models ?? []) keep.add(m.manifest.artifact.sha256);
    if (current) keep.add(current.sha256);
    for (const sha of await store.listPartials()) if (!keep.has(sha)) await store.discardPartial(sha);
    for (const sha of await store.listArtifacts()) {
      if (!keep.has(sha)) {
        await store.deleteArtifact(sha);
        await store.delete(`manifest:${sha}`);
      }
    }
  }

  // ---------- inbound messages ----------

  function refuse(what: string, code: ErrorCode, message: string): void {
    count(`refused.${code}`);
    refusal = { code, message: clip(`${what}: ${message}`, 1024) };
    // design §3: keep running what runs now; report the code and emit an event
    for (const slot of Object.values(slots)) setSlot(refused(slot, refusal));
    scheduleReport();
    emit('verification-failed', `${what} refused: ${message}`, { code });
  }

  async function onKeyring(raw: Uint8Array): Promise<void> {
    const text = new TextDecoder().decode(raw);
    if (keyring && keyring.raw === text) return; // retained re-delivery
    const r = verifyKeyring(raw, options.rootPublicKey, keyring?.keyring ?? null, new Date(clock.now()));
    if (!r.ok) return refuse('keyring', r.code, r.message);
    keyring = { raw: text, keyring: r.value };
    await persist('keyring', keyring);
    emit('keyring-updated', `keyring version ${r.value.version}`);
    if (pendingDesired) {
      const p = pendingDesired;
      pendingDesired = null;
      await onDesired(p);
    }
    scheduleReport();
  }

  async function onDesired(raw: Uint8Array): Promise<void> {
    const digest = digestOf(raw);
    if (desired && desired.digest === digest) return; // the retained copy of what is applied already
    if (!keyring) {
      pendingDesired = raw; // checked as soon as a keyring arrives
      return;
    }
    const r = verifyDesiredState(raw, { deviceId, lastSequence: desired?.sequence ?? 0, keyring: keyring.keyring, now: new Date(clock.now()) });
    if (!r.ok) return refuse('desired state', r.code, r.message);
    const models: WantedModel[] = r.value.models.map((m) => ({ manifest: m.manifest, envelope: m.envelope, role: m.role, ...(m.rolloutId !== undefined ? { rolloutId: m.rolloutId } : {}) }));
    desired = { sequence: r.value.desired.sequence, digest, models, telemetry: r.value.desired.telemetry };
    const windowBefore = settings.windowSeconds;
    settings = settingsOf(desired.telemetry);
    if (settings.windowSeconds !== windowBefore) rewindow();
    refusal = null;
    for (const slot of Object.values(slots)) slots[slot.name] = desiredArrived(slot);
    attempts.clear();
    if (current && !models.some((m) => m.manifest.artifact.sha256 === current?.sha256)) current.control.cancelled = true;
    await persist('desired', desired);
    await saveSlots();
    log(`desired state ${desired.sequence} applied: ${models.map((m) => `${m.manifest.model}@${m.manifest.version}/${m.role}`).join(', ') || 'no models'}`);
    scheduleReport();
    changed();
    kick();
  }

  async function onCommand(raw: Uint8Array): Promise<void> {
    if (!keyring) return refuse('command', 'UNKNOWN_KEY', 'no keyring yet');
    const r = verifyCommand(raw, { deviceId, lastSequence: commandSequence, keyring: keyring.keyring, now: new Date(clock.now()) });
    if (!r.ok) return refuse('command', r.code, r.message);
    commandSequence = r.value.sequence;
    await persist('commandSequence', commandSequence);
    const cmd = r.value;
    if (cmd.action === 'telemetry-confirm') {
      // routine (about once a second while telemetry flows): counted, not logged
      count('telemetryConfirms');
      try {
        count('batchesConfirmed', await store.outboxConfirm(cmd.telemetryRanges ?? []));
      } catch (err) {
        storageFailed('confirming telemetry', err);
      }
      return;
    }
    log(`command ${cmd.action}${cmd.model ? ` ${cmd.model}` : ''}`);
    if (cmd.action === 'rollback') {
      const names = cmd.model ? [cmd.model] : Object.keys(slots);
      for (const name of names) await rollback(name, null, cmd.reason ?? 'rollback command');
    } else if (cmd.action === 'flush-telemetry') {
      void flushTelemetry();
    } else {
      void onConnected();
    }
  }

  function onMessage(topic: string, payload: Uint8Array): void {
    if (!running) return;
    // design §4: chunk frames come unicast or on an artifact's multicast topic; the frame names its artifact
    if (topic === topics.artifactData(deviceId) || parseTopic(topic)?.kind === 'artifact-multicast') {
      downloader.handleFrame(payload);
      return;
    }
    // an empty retained message is the broker's way of clearing a topic (the hub removed this device): nothing to apply
    if (payload.length === 0) {
      count('emptyMessages');
      return;
    }
    const failed = (err: unknown): void => log(`${topic} not applied: ${String(err)}`);
    if (topic === topics.keyring()) enqueue(() => onKeyring(payload)).catch(failed);
    else if (topic === topics.desired(deviceId)) enqueue(() => onDesired(payload)).catch(failed);
    else if (topic === topics.command(deviceId)) enqueue(() => onCommand(payload)).catch(failed);
    else count('unexpectedTopic');
  }

  async function onConnected(): Promise<void> {
    if (!running) return;
    connectedAt = clock.now();
    try {
      await transport.publish(topics.status(deviceId), 'online', { qos: 1, retain: true });
      const subs = await transport.subscribe([topics.keyring(), topics.desired(deviceId), topics.command(deviceId), topics.artifactData(deviceId)]);
      for (const s of subs) if (!s.ok) emit('error', `subscription to ${s.topic} refused${s.reason ? `: ${s.reason}` : ''}`, { code: 'FORBIDDEN' });
    } catch (err) {
      log(`connect setup failed: ${String(err)}`);
    }
    await publishReported();
    downloader.nudge();
    void flushEvents();
    void flushOutbox();
    kick();
  }

  // ---------- inference (design §5) ----------

  function checkFeeds(specs: readonly TensorSpec[], feeds: Record<string, Tensor>): void {
    for (let i = 0; i < specs.length; i++) {
      const spec = specs[i]!;
      const t = feeds[spec.name];
      if (t === undefined) throw new EdgefleetError('BAD_INPUT', `missing input '${spec.name}'`);
      if (t.type !== spec.type) throw new EdgefleetError('BAD_INPUT', `input '${spec.name}' is ${t.type}, model expects ${spec.type}`);
      if (t.dims.length !== spec.shape.length) throw new EdgefleetError('BAD_INPUT', `input '${spec.name}' has rank ${t.dims.length}, model expects ${spec.shape.length}`);
      for (let d = 0; d < spec.shape.length; d++) {
        const want = spec.shape[d];
        if (typeof want === 'number' && t.dims[d] !== want) {
          throw new EdgefleetError('BAD_INPUT', `input '${spec.name}' dim ${d} is ${t.dims[d]}, model expects ${want}`);
        }
      }
    }
  }

  function pick(name: string, version: string | undefined): Live {
    const s = served.get(name);
    const live = s?.active && (version === undefined || s.active.ref.version === version) ? s.active : version !== undefined && s?.shadow?.ref.version === version ? s.shadow : null;
    if (!live) {
      throw new EdgefleetError('NOT_FOUND', version === undefined ? `model '${name}' is not served` : `model '${name}' version ${version} is not served`);
    }
    return live;
  }

  function finish(live: Live): void {
    live.inflight--;
    if (live.retired && live.inflight === 0) void live.session.release().catch(() => {});
  }

  function failed(live: Live, s: Served | undefined, err: unknown): EdgefleetError {
    const e = err instanceof EdgefleetError && err.code !== 'INTERNAL' ? err : new EdgefleetError('INFERENCE_FAILED', err instanceof Error ? err.message : String(err), { cause: err });
    live.telemetry.recordError(e.code);
    if (s && live.onProbation && live === s.active && e.code !== 'BAD_INPUT') {
      s.stats.inferences++;
      s.stats.errors++;
      judge(live.name);
    }
    return e;
  }

  function agree(manifest: Manifest, a: Record<string, Tensor>, b: Record<string, Tensor>): boolean {
    const tol = manifest.selfTest.tolerance;
    for (const name in a) {
      const x = a[name]!;
      const y = b[name];
      if (!y || x.data.length !== y.data.length) return false;
      for (let i = 0; i < x.data.length; i++) {
        const p = x.data[i]!;
        const q = y.data[i]!;
        if (p === q) continue;
        if (typeof p === 'string' || typeof q === 'string') return false;
        const pn = Number(p);
        if (!(Math.abs(pn - Number(q)) <= tol.abs + tol.rel * Math.abs(pn))) return false;
      }
    }
    return true;
  }

  function shadowCopy(s: Served, feeds: Record<string, Tensor>, activeOut: Record<string, Tensor>, predicted: number): void {
    const shadow = s.shadow!;
    if (s.shadowQueued >= shadowQueueSize) {
      shadow.telemetry.recordShadowDrop();
      count('shadowDropped');
      return;
    }
    s.shadowQueued++;
    shadow.inflight++;
    // Off the hot path: the caller has its answer before the shadow runs (design §5 shadow mode).
    clock.setTimeout(() => {
      const t0 = performance.now();
      shadow.session
        .run(feeds)
        .then((out) => {
          const ms = performance.now() - t0;
          const p = shadow.telemetry.record(feeds, out, ms);
          const agreed = predicted >= 0 && p >= 0 ? p === predicted : agree(shadow.manifest, activeOut, out);
          shadow.telemetry.recordShadow(agreed, ms);
        })
        .catch((err: unknown) => {
          shadow.telemetry.recordError(toEdgefleetError(err, 'INFERENCE_FAILED').code);
        })
        .finally(() => {
          s.shadowQueued--;
          finish(shadow);
        });
    }, 0);
  }

  async function run(name: string, feeds: Record<string, Tensor>, opts?: InferOptions): Promise<InferResult> {
    const s = served.get(name);
    const live = s !== undefined && s.active !== null && opts?.version === undefined ? s.active : pick(name, opts?.version);
    live.inflight++;
    const t0 = performance.now();
    let outputs: Record<string, Tensor>;
    try {
      checkFeeds(live.manifest.io.inputs, feeds);
      outputs = await live.session.run(feeds, opts?.outputs);
    } catch (err) {
      throw failed(live, s, err);
    } finally {
      finish(live);
    }
    const t1 = performance.now();
    const ms = t1 - t0;
    const tel = live.telemetry;
    const now = perfOrigin + t1;
    if (now >= tel.end) {
      const w = tel.rotate(now);
      if (w) closedWindows.push(w);
    }
    const predicted = tel.record(feeds, outputs, ms);
    const n = ++predictionCounter;
    const customId = opts?.id;
    if (predicted >= 0) {
      const slot = n % predictionMemory;
      const old = ringId[slot];
      if (old !== undefined) {
        if (customIds.get(old) === ringN[slot]) customIds.delete(old);
        ringId[slot] = undefined;
      }
      if (customId !== undefined) {
        ringId[slot] = customId;
        customIds.set(customId, n);
      }
      let rw = live.ringWindow;
      if (rw === null || rw.start !== tel.start || rw.end !== tel.end) {
        // once per window per model version, not per call
        rw = live.ringWindow = { model: name, version: live.ref.version, role: live.role, start: tel.start, end: tel.end };
      }
      ringN[slot] = n;
      ringPredicted[slot] = predicted;
      ringWindow[slot] = rw;
    }
    const id = customId ?? bootPrefix + String(n);
    if (s !== undefined && live === s.active) {
      if (live.onProbation) s.stats.inferences++;
      if (s.shadow !== null) shadowCopy(s, feeds, outputs, predicted);
    }
    return { model: name, version: live.ref.version, id, outputs };
  }

  async function label(name: string, id: string, value: string | number): Promise<void> {
    let rec = ringLookup(id);
    if (!rec || rec.model !== name) rec = await store.getPrediction(name, id);
    if (!rec) throw new EdgefleetError('NOT_FOUND', `no prediction '${id}' of model '${name}' to label`);
    const s = served.get(name);
    const live = [s?.active, s?.shadow].find((l) => l && l.ref.version === rec.version && l.role === rec.role) ?? null;
    const labels = live?.manifest.labels ?? (await findLabels(name, rec.version));
    const actual = typeof value === 'number' ? (Number.isInteger(value) && value >= 0 ? value : -1) : labels.indexOf(value) >= 0 ? labels.indexOf(value) : /^\d+$/.test(value) ? Number(value) : -1;
    if (actual < 0) throw new EdgefleetError('BAD_INPUT', `label ${JSON.stringify(value)} is not a class of '${name}'${labels.length ? ` (${labels.slice(0, 10).join(', ')})` : ''}`);
    if (live && live.telemetry.start === rec.start) {
      windowAddLabel(live.telemetry.window, rec.predicted, actual);
    } else {
      // design §6: a late label goes out as a delta for the window of the original prediction
      closedWindows.push(labelDeltaWindow(name, rec.version, rec.role, rec.start, rec.end, rec.predicted, actual));
      void flushOutbox();
    }
    count('labels');
  }

  async function findLabels(name: string, version: string): Promise<string[]> {
    const slot = slots[name];
    for (const ref of [slot?.active, slot?.previous, slot?.shadow]) {
      if (ref?.version === version) return (await manifestOf(ref.sha256))?.labels ?? [];
    }
    return [];
  }

  async function flushTelemetry(): Promise<void> {
    rotateAll(true);
    await flushOutbox();
  }

  // ---------- lifecycle ----------

  async function restore(): Promise<void> {
    events.unshift(...((await store.get<DeviceEvent[]>('events')) ?? []).slice(-256));
    keyring = (await store.get<StoredKeyring>('keyring')) ?? null;
    desired = (await store.get<StoredDesired>('desired')) ?? null;
    commandSequence = (await store.get<number>('commandSequence')) ?? 0;
    settings = settingsOf(desired?.telemetry);
    slots = (await store.get<Record<string, ModelSlot>>('slots')) ?? {};
    const crashed = (await store.get<boolean>('cleanStop')) !== true;
    // start-up needs no free byte (design §5 offline first): a write refused here is retried by the tick
    await persist('cleanStop', false);
    const now = clock.now();
    for (const original of Object.values(slots)) {
      // crash-loop detection and probation bookkeeping (design §5)
      const started = onAgentStart(original, now, maxRestarts, crashed);
      let slot = started.slot;
      if (started.rollback) emit('rolled-back', `${slot.name}: ${started.rollback}`, { model: slot.name, version: original.active?.version, code: 'PROBATION_FAILED' });
      if (INSTALLING.has(slot.state)) slot = installAbandoned(slot);
      // Offline first: serve what is verified on disk; a damaged active falls back to the previous version.
      const s = servedOf(slot.name);
      if (slot.active) {
        try {
          s.active = await loadLive(slot.name, slot.active, 'active');
          s.active.onProbation = slot.probation !== null;
        } catch (err) {
          const e = toEdgefleetError(err);
          emit('load-failed', `${slot.name}@${slot.active.version} cannot be served: ${e.message}`, { model: slot.name, version: slot.active.version, code: e.code });
          const bad = slot.active;
          slot = activeUnusable(slot, { code: e.code, message: e.message });
          const prev = slot.previous;
          if (prev) {
            try {
              s.active = await loadLive(slot.name, prev, 'active');
              slot = fellBackToPrevious(slot);
              emit('rolled-back', `${slot.name} ${bad.version} → ${slot.active!.version}: active file unusable`, { model: slot.name, version: bad.version, code: e.code });
            } catch (err2) {
              const e2 = toEdgefleetError(err2);
              emit('load-failed', `${slot.name} previous ${prev.version} cannot be served either: ${e2.message}`, { model: slot.name, code: e2.code });
              slot = previousUnusable(slot);
            }
          }
          await store.deleteArtifact(bad.sha256).catch(() => {}); // damaged: fetch again if still desired
        }
      }
      if (slot.shadow) {
        try {
          s.shadow = await loadLive(slot.name, slot.shadow, 'shadow');
        } catch (err) {
          const e = toEdgefleetError(err);
          emit('load-failed', `shadow ${slot.name}@${slot.shadow.version} cannot be loaded: ${e.message}`, { model: slot.name, code: e.code });
          slot = shadowRemoved(slot);
        }
      }
      slots[slot.name] = slot;
    }
    await saveSlots();
  }

  const core: AgentCore = {
    counters,

    async start() {
      if (running) return;
      startedAt = clock.now();
      await restore();
      running = true;
      transport.onMessage(onMessage);
      transport.onConnect(() => void onConnected());
      transport.onDisconnect(() => changed());
      tick();
      transport.connect();
      kick();
    },

    async stop() {
      if (!running) return;
      running = false;
      if (current) current.control.cancelled = true;
      if (tickTimer !== null) clock.clearTimeout(tickTimer);
      if (reportTimer !== null) clock.clearTimeout(reportTimer);
      if (retryTimer !== null) clock.clearTimeout(retryTimer);
      rotateAll(true);
      await chain.catch(() => {});
      // Persist what telemetry we have; it is sent after the next start.
      if (closedWindows.length > 0) await store.outboxAppend(closedWindows.splice(0), outboxMax).catch(() => 0);
      if (persistedUpTo < predictionCounter) await store.putPredictions(unpersistedPredictions()).catch(() => {});
      await saver.retry();
      await persist('cleanStop', true);
      if (transport.connected) await transport.publish(topics.status(deviceId), 'offline', { qos: 1, retain: true }).catch(() => {});
      await transport.close();
      for (const s of served.values()) {
        for (const live of [s.active, s.shadow]) if (live) retire(live);
      }
      served.clear();
    },

    run,
    label,
    flushTelemetry,

    slots: () => slots,
    reported: buildReported,

    waitFor(predicate, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        if (predicate(core)) return resolve();
        // re-checked on every state change, and every 25 ms for conditions outside the agent
        const poll = setInterval(() => check(), 25);
        const timer = setTimeout(() => {
          waiters.delete(check);
          clearInterval(poll);
          reject(new Error(`waitFor timed out after ${timeoutMs} ms; slots: ${JSON.stringify(slots)}`));
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
      return { name: 'edgefleet-agent', version: AGENT_VERSION, extensions: ['edgefleet-feedback'] };
    },
    isLive: () => true,
    isReady: () => running,
    listModels: () => [...served.entries()].filter(([, s]) => s.active).map(([name]) => name),
    modelMetadata(name, version): ModelMetadata | null {
      const s = served.get(name);
      if (!s?.active) return null;
      const versions = [s.active.ref.version, ...(s.shadow ? [s.shadow.ref.version] : [])];
      const live = version === undefined ? s.active : [s.active, s.shadow].find((l) => l?.ref.version === version);
      if (!live) return null;
      return { name, versions, platform: 'onnxruntime_onnx', inputs: live.manifest.io.inputs.map(tensorMeta), outputs: live.manifest.io.outputs.map(tensorMeta) };
    },
    isModelReady(name, version) {
      try {
        pick(name, version);
        return true;
      } catch {
        return false;
      }
    },
    async infer(name, request: OipInferRequest, version): Promise<InferResponse> {
      const live = pick(name, version);
      const feeds = decodeInferInputs(live.manifest.io.inputs, request.inputs);
      const names = requestedOutputNames(live.manifest.io.outputs, request.outputs);
      const r = await run(name, feeds, { ...(version !== undefined ? { version } : {}), ...(request.id !== undefined ? { id: request.id } : {}), ...(names ? { outputs: names } : {}) });
      return { model_name: name, model_version: r.version, id: r.id, outputs: encodeOutputs(r.outputs, names ?? live.manifest.io.outputs.map((o) => o.name)) };
    },
    async feedback(name, body: FeedbackBody) {
      await label(name, body.id, body.label);
    },
  };
  return core;
}
