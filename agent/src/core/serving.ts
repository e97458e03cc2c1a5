// Inference (design §5): sessions loaded only from verified bytes and self-tested, the hot path with its
// telemetry, shadow copies off the hot path, and the atomic swap (in-flight requests finish on the old
// session; the last one out releases it).

import { EdgefleetError, toEdgefleetError, type Manifest, type TensorSpec } from '@edgefleet/protocol';
import { manifestOf, type AgentContext, type Live, type Served } from './context.js';
import type { Capture } from './capture.js';
import type { Predictions } from './predictions.js';
import type { ModelSession } from './runtime.js';
import { createModelTelemetry } from './telemetry-recorder.js';
import { tensorFromData, tensorMismatch, type Tensor } from '@edgefleet/protocol';
import type { VersionRef } from './update-plan.js';

export interface ServingOptions {
  /** Shadow copies waiting to run, at most; more are dropped and counted (design §5). */
  shadowQueueSize: number;
  predictions: Predictions;
  /** Field-data capture (design §4): told about each prediction and shadow disagreement. */
  capture?: Capture;
  /** A request failed on an active version on probation: judge it now. */
  onProbationError: (name: string) => void;
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

export interface Serving {
  run(name: string, feeds: Record<string, Tensor>, options?: InferOptions): Promise<InferResult>;
  /** The session serving `name` (at `version`, active or shadow); NOT_FOUND when none. */
  pick(name: string, version: string | undefined): Live;
  /**
   * Run `fn` on the session serving `name` off the hot path (no telemetry, no prediction record: an
   * explanation's coalition rows); the session is not released under it by a swap until `fn` settles.
   */
  use<T>(name: string, version: string | undefined, fn: (live: Live) => Promise<T>): Promise<T>;
  servedOf(name: string): Served;
  makeLive(name: string, manifest: Manifest, session: ModelSession, role: 'active' | 'shadow'): Live;
  /** Take a session out of service; it is released once its in-flight requests are done. */
  retire(live: Live | null): void;
  /** Load an installed version: its manifest from the store, its bytes re-verified. */
  loadLive(name: string, ref: VersionRef, role: 'active' | 'shadow'): Promise<Live>;
  readVerified(ref: VersionRef): Promise<Uint8Array>;
  loadSession(model: Uint8Array | (() => Promise<ModelSession>)): Promise<ModelSession>;
  selfTest(session: ModelSession, manifest: Manifest): Promise<void>;
  /** Close the windows that are due (or all, `force`) into `state.closedWindows`. */
  rotateAll(force: boolean): void;
  /** The desired state changed the window length: close the current windows, open ones of the new length. */
  rewindow(): void;
  /** Stopping: every session retired. */
  retireAll(): void;
}

export function checkFeeds(specs: readonly TensorSpec[], feeds: Record<string, Tensor>): void {
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

/** Shadow and active outputs agree within the manifest's self-test tolerance. */
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

export function createServing(ctx: AgentContext, options: ServingOptions): Serving {
  const { state, store, clock, runtime } = ctx;
  const { predictions, capture } = options;

  function servedOf(name: string): Served {
    let s = state.served.get(name);
    if (!s) {
      s = { active: null, shadow: null, stats: { inferences: 0, errors: 0 }, shadowQueued: 0 };
      state.served.set(name, s);
    }
    return s;
  }

  function retire(live: Live | null): void {
    if (!live) return;
    live.retired = true;
    const closed = live.telemetry.rotate(clock.now(), true);
    if (closed) state.closedWindows.push(closed);
    // In-flight requests finish on the old session; the last one out releases it (design §5 atomic swap).
    if (live.inflight === 0) void live.session.release().catch(() => {});
  }

  function makeLive(name: string, manifest: Manifest, session: ModelSession, role: 'active' | 'shadow'): Live {
    return {
      name,
      ref: { version: manifest.version, release: manifest.release, sha256: manifest.artifact.sha256 },
      manifest,
      session,
      telemetry: createModelTelemetry(manifest, role, state.settings.windowSeconds * 1000, clock.now()),
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
    if (ctx.digestOf(bytes) !== ref.sha256) throw new EdgefleetError('HASH_MISMATCH', `artifact ${ref.sha256.slice(0, 12)}… on disk is damaged`);
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

  async function loadLive(name: string, ref: VersionRef, role: 'active' | 'shadow'): Promise<Live> {
    const manifest = await manifestOf(store, ref.sha256);
    if (!manifest) throw new EdgefleetError('NOT_FOUND', `no manifest stored for ${name}@${ref.version}`);
    const session = await loadSession(await readVerified(ref));
    return makeLive(name, manifest, session, role);
  }

  function rotateAll(force: boolean): void {
    const now = clock.now();
    for (const s of state.served.values()) {
      for (const live of [s.active, s.shadow]) {
        if (!live) continue;
        const w = live.telemetry.rotate(now, force);
        if (w) state.closedWindows.push(w);
      }
    }
  }

  function pick(name: string, version: string | undefined): Live {
    const s = state.served.get(name);
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
      options.onProbationError(live.name);
    }
    return e;
  }

  function shadowCopy(s: Served, feeds: Record<string, Tensor>, activeOut: Record<string, Tensor>, predicted: number, id: string): void {
    const shadow = s.shadow!;
    if (s.shadowQueued >= options.shadowQueueSize) {
      shadow.telemetry.recordShadowDrop();
      ctx.count('shadowDropped');
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
          if (!agreed && capture && s.active) capture.shadowDisagreed(s.active, feeds, activeOut, id, predicted);
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

  // Not `async`: the continuation rides the runtime's own promise (one `.then`), no async frame and
  // its extra await hop per call (agent.infer.overhead.tiny); errors still come back as rejections.
  function run(name: string, feeds: Record<string, Tensor>, opts?: InferOptions): Promise<InferResult> {
    const s = state.served.get(name);
    let live: Live;
    let pending: Promise<Record<string, Tensor>>;
    let t0: number;
    try {
      live = s !== undefined && s.active !== null && opts?.version === undefined ? s.active : pick(name, opts?.version);
    } catch (err) {
      return Promise.reject(err);
    }
    live.inflight++;
    try {
      t0 = performance.now();
      checkFeeds(live.manifest.io.inputs, feeds);
      pending = live.session.run(feeds, opts?.outputs);
    } catch (err) {
      finish(live);
      return Promise.reject(failed(live, s, err));
    }
    return pending.then(
      (outputs) => {
        finish(live);
        const t1 = performance.now();
        const ms = t1 - t0;
        const tel = live.telemetry;
        const now = state.perfOrigin + t1;
        if (now >= tel.end) {
          const w = tel.rotate(now);
          if (w) state.closedWindows.push(w);
        }
        const predicted = tel.record(feeds, outputs, ms);
        const id = predictions.remember(live, predicted, opts?.id);
        if (capture !== undefined) capture.afterInfer(live, feeds, outputs, id, predicted);
        if (s !== undefined && live === s.active) {
          if (live.onProbation) s.stats.inferences++;
          if (s.shadow !== null) shadowCopy(s, feeds, outputs, predicted, id);
        }
        return { model: name, version: live.ref.version, id, outputs };
      },
      (err: unknown) => {
        finish(live);
        throw failed(live, s, err);
      },
    );
  }

  async function use<T>(name: string, version: string | undefined, fn: (live: Live) => Promise<T>): Promise<T> {
    const live = pick(name, version);
    live.inflight++;
    try {
      return await fn(live);
    } catch (err) {
      throw err instanceof EdgefleetError && err.code !== 'INTERNAL' ? err : new EdgefleetError('INFERENCE_FAILED', err instanceof Error ? err.message : String(err), { cause: err });
    } finally {
      finish(live);
    }
  }

  return {
    run,
    pick,
    use,
    servedOf,
    makeLive,
    retire,
    loadLive,
    readVerified,
    loadSession,
    selfTest,
    rotateAll,

    rewindow() {
      rotateAll(true);
      const now = clock.now();
      for (const s of state.served.values()) {
        for (const live of [s.active, s.shadow]) {
          if (live) live.telemetry = createModelTelemetry(live.manifest, live.role, state.settings.windowSeconds * 1000, now);
        }
      }
    },

    retireAll() {
      for (const s of state.served.values()) {
        for (const live of [s.active, s.shadow]) if (live) retire(live);
      }
      state.served.clear();
    },
  };
}
