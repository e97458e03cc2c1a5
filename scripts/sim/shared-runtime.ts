// An InferenceRuntime for many in-process agents: one onnxruntime session per model file,
// shared by every agent that loads the same bytes (keyed by sha256, reference-counted), plus failure
// injection wrappers (slow model, inference errors) the simulator hands to chosen devices.

import { createHash } from 'node:crypto';
import { EdgefleetError } from '@edgefleet/protocol';
import type { InferenceRuntime, ModelSession } from '@edgefleet/agent/core';
import { createOnnxRuntime, type OnnxRuntimeOptions } from '@edgefleet/agent';

export interface SharedRuntime extends InferenceRuntime {
  /** Distinct sessions alive now (one per model file in use anywhere in the process). */
  sessions(): number;
  /** Calls to `load` answered from the cache. */
  readonly hits: number;
}

interface Entry {
  session: Promise<ModelSession>;
  users: number;
}

/**
 * Wraps a runtime so that loading the same bytes twice returns the same underlying session. Each
 * `load` gets its own handle whose `release()` drops one reference; the session goes when the last does.
 */
export function createSharedRuntime(base: InferenceRuntime = createOnnxRuntime(defaultSessionOptions())): SharedRuntime {
  const cache = new Map<string, Entry>();
  let hits = 0;
  /** A handle of its own on a shared session: `release()` drops one reference; the last one releases it. */
  const handle = async (key: string, e: Entry): Promise<ModelSession> => {
    e.users++;
    const session = await e.session;
    let released = false;
    return {
      inputs: session.inputs,
      outputs: session.outputs,
      run(feeds, outputNames) {
        if (released) return Promise.reject(new EdgefleetError('UNAVAILABLE', 'the model session was released'));
        return session.run(feeds, outputNames);
      },
      async release() {
        if (released) return;
        released = true;
        if (--e.users === 0 && cache.get(key) === e) {
          cache.delete(key);
          await session.release();
        }
      },
    };
  };
  const shared = (key: string, load: () => Promise<ModelSession>): Promise<ModelSession> => {
    let entry = cache.get(key);
    if (entry) hits++;
    else {
      entry = { session: load(), users: 0 };
      cache.set(key, entry);
      // a failed load is not cached: the next agent tries again
      entry.session.catch(() => cache.delete(key));
    }
    return handle(key, entry);
  };
  return {
    name: base.name,
    get hits() {
      return hits;
    },
    sessions: () => cache.size,
    load(model) {
      return shared(sha256Of(model), () => base.load(model));
    },
    loadShared(sha256, read) {
      // Another agent's read failing (its own file damaged) is not this agent's verdict: it reads its own.
      let mine = false;
      const attempt = () =>
        shared(sha256, async () => {
          mine = true;
          return base.load(await read());
        });
      return attempt().catch((err: unknown) => {
        if (mine) throw err;
        return attempt();
      });
    },
  };
}

/** Session options for a process hosting many agents: one intra-op thread each keeps 2 cores usable. */
export function defaultSessionOptions(): OnnxRuntimeOptions {
  return { intraOpNumThreads: 1, executionMode: 'sequential' };
}

export interface FaultOptions {
  /** Added to every `run` (a slow model / slow device). */
  delayMs?: number;
  /** Share of runs that fail with INFERENCE_FAILED (after load and self-test, which run once per load). */
  errorRate?: number;
  /** Only these model versions misbehave (matched against `versionOf(bytes)`); all when omitted. */
  onlyModels?: ReadonlySet<string>;
  random?: () => number;
}

/**
 * A per-device view of a runtime that misbehaves on purpose. The self-test (the first run after a load)
 * is left alone, so a faulty model still activates and the fault shows up where the hub watches:
 * in telemetry, probation and the rollout gates.
 */
export function withFaults(base: InferenceRuntime, faults: FaultOptions, shaOf: (model: Uint8Array) => string = sha256Of): InferenceRuntime {
  const random = faults.random ?? Math.random;
  return {
    name: base.name,
    async load(model) {
      const session = await base.load(model);
      if (faults.onlyModels && !faults.onlyModels.has(shaOf(model))) return session;
      let runs = 0;
      return {
        inputs: session.inputs,
        outputs: session.outputs,
        async run(feeds, outputNames) {
          const first = runs++ < 2; // the agent's self-test and warm-up
          if (!first && faults.delayMs) await new Promise((r) => setTimeout(r, faults.delayMs));
          if (!first && faults.errorRate && random() < faults.errorRate) {
            throw new EdgefleetError('INFERENCE_FAILED', 'injected inference failure (simulator)');
          }
          return session.run(feeds, outputNames);
        },
        release: () => session.release(),
      };
    },
  };
}

export function sha256Of(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
