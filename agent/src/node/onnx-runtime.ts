// InferenceRuntime over onnxruntime-node (design §5). Thin on purpose: the per-call path wraps the
// core's typed arrays in ort.Tensor without copying and hands ort's output buffers back as they are.

import './ort-env.js'; // before onnxruntime-node loads
import * as ort from 'onnxruntime-node';
import { EdgefleetError, type TensorSpec } from '@edgefleet/protocol';
import { tensorSpecsOf, tensorsFromOrt } from '../core/ort-values.js';
import type { InferenceRuntime, ModelSession } from '../core/runtime.js';

export interface OnnxRuntimeOptions {
  /** Threads inside one operator; onnxruntime's default (all cores) when omitted. */
  intraOpNumThreads?: number;
  executionMode?: 'sequential' | 'parallel';
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
}


function runtimeName(): string {
  const version = (ort.env as { versions?: { common?: string } }).versions?.common;
  return version === undefined ? 'onnxruntime-node' : `onnxruntime-node@${version}`;
}

export function createOnnxRuntime(options: OnnxRuntimeOptions = {}): InferenceRuntime {
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
    ...(options.intraOpNumThreads !== undefined ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
    ...(options.executionMode !== undefined ? { executionMode: options.executionMode } : {}),
  };
  return {
    name: runtimeName(),
    async load(model: Uint8Array): Promise<ModelSession> {
      let session: ort.InferenceSession;
      try {
        session = await ort.InferenceSession.create(model, sessionOptions);
      } catch (err) {
        throw new EdgefleetError('MODEL_LOAD_FAILED', `onnxruntime could not load the model: ${(err as Error).message}`, {
          cause: err,
        });
      }
      let inputs: TensorSpec[];
      let outputs: TensorSpec[];
      try {
        inputs = tensorSpecsOf(session.inputMetadata, 'input');
        outputs = tensorSpecsOf(session.outputMetadata, 'output');
      } catch (err) {
        await session.release();
        throw err;
      }
      return createSession(session, inputs, outputs);
    },
  };
}

function runFailed(err: unknown): never {
  throw new EdgefleetError('INFERENCE_FAILED', `onnxruntime run failed: ${(err as Error).message}`, { cause: err });
}

function createSession(session: ort.InferenceSession, inputs: TensorSpec[], outputs: TensorSpec[]): ModelSession {
  let released = false;
  return {
    inputs,
    outputs,
    // Not `async`: one `.then` on ort's promise instead of an async frame awaiting it — the per-call
    // promise hop counts against bare `session.run()` on small models (design §5 hot path).
    run(feeds, outputNames) {
      if (released) return Promise.reject(new EdgefleetError('UNAVAILABLE', 'the model session was released'));
      const ortFeeds: Record<string, ort.Tensor> = {};
      try {
        for (const name in feeds) {
          const t = feeds[name]!;
          // ort.Tensor keeps a reference to `data`: no copy (bool rides as Uint8Array, per onnxruntime-common)
          ortFeeds[name] = new ort.Tensor(t.type, t.data as ort.Tensor.DataType, t.dims);
        }
        const pending =
          outputNames === undefined || outputNames.length === 0 ? session.run(ortFeeds) : session.run(ortFeeds, outputNames as string[]);
        return pending.then(tensorsFromOrt, runFailed);
      } catch (err) {
        return Promise.reject(err);
      }
    },
    async release() {
      if (released) return;
      released = true;
      await session.release();
    },
  };
}
