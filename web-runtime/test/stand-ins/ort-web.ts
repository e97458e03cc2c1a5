// TEMPORARY stand-in for web-runtime/src/ort-web.ts (another helper's part): loads nothing.
import { EdgefleetError } from '@edgefleet/protocol';
import type { InferenceRuntime } from '@edgefleet/agent/core';

export function createOrtWebRuntime(_options?: { wasmPaths?: string; numThreads?: number; proxy?: boolean }): InferenceRuntime {
  return {
    name: 'onnxruntime-web@stand-in',
    async load() {
      throw new EdgefleetError('MODEL_LOAD_FAILED', 'stand-in runtime');
    },
  };
}
