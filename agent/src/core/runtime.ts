// The inference runtime seam (onnxruntime's `Backend` split): the core loads and runs models through
// these interfaces; onnxruntime-node (agent/src/node/onnx-runtime.ts) and onnxruntime-web implement them.

import type { Tensor, TensorSpec } from '@edgefleet/protocol';

export interface InferenceRuntime {
  /** e.g. "onnxruntime-node@1.30.0"; reported to the hub. */
  readonly name: string;
  /** Create a session from model bytes; throws `MODEL_LOAD_FAILED`. */
  load(model: Uint8Array): Promise<ModelSession>;
  /**
   * A session for the model whose bytes have this sha256: a new handle on the one this runtime already
   * holds, or loaded from `read()`. Only a runtime shared by many agents in one process implements it (one
   * session per model file); the core calls it only for bytes its download has just verified.
   */
  loadShared?(sha256: string, read: () => Promise<Uint8Array>): Promise<ModelSession>;
}

export interface ModelSession {
  /** Inputs and outputs as the model declares them (symbolic dims as strings). */
  readonly inputs: TensorSpec[];
  readonly outputs: TensorSpec[];
  /**
   * Run once. `outputNames` limits what is computed and returned (all outputs when omitted).
   * Throws `INFERENCE_FAILED` (or `UNAVAILABLE` after `release()`).
   */
  run(feeds: Record<string, Tensor>, outputNames?: readonly string[]): Promise<Record<string, Tensor>>;
  release(): Promise<void>;
}
