// TEMPORARY stand-in for web-runtime/src/ort-web.ts (another helper's part): loads nothing.
import { EdgefleetError } from '@edgefleet/protocol';
import type { InferenceRuntime } from '@edgefleet/agent/core';
import * as ort from 'onnxruntime-web/wasm';

/** The real runtime's library, referenced so a stand-in bundle measures as big as the real one. */
const library = (globalThis as { __edgefleetSizeProbe?: unknown }).__edgefleetSizeProbe ? ort.InferenceSession : null;

export function createOrtWebRuntime(_options?: { wasmPaths?: string; numThreads?: number; proxy?: boolean }): InferenceRuntime {
  return {
    name: 'onnxruntime-web@stand-in',
    async load() {
      void library;
      throw new EdgefleetError('MODEL_LOAD_FAILED', 'stand-in runtime');
    },
  };
}
