// InferenceRuntime over onnxruntime-web's wasm backend (design §5), the browser twin of
// agent/src/node/onnx-runtime.ts: same specs, same error codes. `onnxruntime-web/wasm` keeps WebGPU/WebGL
// out of a bundle. ort's env is process-wide: the first session create fixes wasm paths, threads, proxy.

import * as ort from 'onnxruntime-web/wasm';
import { EdgefleetError, type TensorSpec } from '@edgefleet/protocol';
import { tensorSpecsOf, tensorsFromOrt, type InferenceRuntime, type ModelSession } from '@edgefleet/agent/core';

export interface OrtWebRuntimeOptions {
  /** Directory (URL, trailing slash) serving `ort-wasm-simd-threaded.{mjs,wasm}`; ort resolves them next to its own module when omitted. */
  wasmPaths?: string;
  /** wasm threads; honoured only on a cross-origin isolated page (COOP/COEP), 1 otherwise and by default. */
  numThreads?: number;
  /** Run ort in its own proxy worker (off by default; pointless when the agent already runs in a Worker). */
  proxy?: boolean;
  /** Give up on the wasm initialisation after this long instead of waiting forever (default 60 s; 0 = never). */
  initTimeoutMs?: number;
}

export interface OrtWebRuntime extends InferenceRuntime {
  /** Why ort's wasm could not start (it latches until the page reloads); null while it has not failed. */
  readonly initError: EdgefleetError | null;
}

const WASM_FILE = 'ort-wasm-simd-threaded.wasm';

// onnxruntime-web latches a failed initWasm() for the life of the page: every later create() fails with
// "previous call to 'initWasm()' failed". Kept here (module-wide, like ort's own state) with what failed.
let initError: EdgefleetError | null = null;

function runtimeName(): string {
  const version = (ort.env as { versions?: { web?: string; common?: string } }).versions;
  const v = version?.web ?? version?.common;
  return v === undefined ? 'onnxruntime-web' : `onnxruntime-web@${v}`;
}

/** Threads need SharedArrayBuffer, which a browser grants only to a cross-origin isolated page. */
function threadsFor(requested: number | undefined): number {
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  if (!isolated || requested === undefined || requested < 1) return 1;
  return Math.floor(requested);
}

function configure(options: OrtWebRuntimeOptions): void {
  const wasm = ort.env.wasm;
  wasm.numThreads = threadsFor(options.numThreads);
  wasm.proxy = options.proxy === true;
  wasm.initTimeout = options.initTimeoutMs ?? 60_000;
  if (options.wasmPaths !== undefined) wasm.wasmPaths = options.wasmPaths;
}

/** True when ort's create() failed because its wasm backend did not start, not because of the model. */
function isInitFailure(message: string): boolean {
  return /no available backend found|initWasm|WebAssembly backend initializing failed/i.test(message);
}

/**
 * What went wrong fetching ort's wasm from `base`: a status, a MIME type, or a refused fetch (network or a
 * CSP `connect-src`). Undefined when the file looks fine or cannot be probed (no fetch, a non-HTTP base).
 */
export async function diagnoseWasmFetch(base: string, fetchFn: typeof fetch | undefined = globalThis.fetch): Promise<string | undefined> {
  let url: URL;
  try {
    url = new URL(WASM_FILE, base);
  } catch {
    return `wasmPaths '${base}' is not a URL`;
  }
  if (fetchFn === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) return undefined;
  let res: Response;
  try {
    res = await fetchFn(url, { method: 'GET', cache: 'no-store' });
  } catch (err) {
    return `fetching ${url.href} failed (${(err as Error).message}): network down, or a CSP connect-src refusing it`;
  }
  try {
    if (!res.ok) return `${url.href} answered HTTP ${res.status}`;
    const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/wasm') return `${url.href} is served as '${type || 'no content-type'}', not application/wasm`;
    return undefined;
  } finally {
    await res.body?.cancel().catch(() => {});
  }
}

function describeInitFailure(message: string): string {
  if (/content security policy|wasm-unsafe-eval|unsafe-eval/i.test(message)) {
    return `a Content Security Policy blocks WebAssembly: allow 'wasm-unsafe-eval' in script-src (${message})`;
  }
  return message;
}

async function initFailed(err: Error, options: OrtWebRuntimeOptions): Promise<EdgefleetError> {
  const probe = options.wasmPaths !== undefined ? await diagnoseWasmFetch(options.wasmPaths).catch(() => undefined) : undefined;
  const what = probe ?? describeInitFailure(err.message);
  return new EdgefleetError('UNAVAILABLE', `onnxruntime-web could not start its wasm backend (a page reload is needed): ${what}`, {
    cause: err,
  });
}

export function createOrtWebRuntime(options: OrtWebRuntimeOptions = {}): OrtWebRuntime {
  configure(options);
  const proxy = options.proxy === true;
  return {
    name: runtimeName(),
    get initError() {
      return initError;
    },
    async load(model: Uint8Array): Promise<ModelSession> {
      if (initError) throw initError;
      let session: ort.InferenceSession;
      try {
        // the proxy worker takes the buffer by transfer, which would detach the caller's bytes: send a copy
        session = await ort.InferenceSession.create(proxy ? model.slice() : model, { graphOptimizationLevel: 'all' });
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        if (isInitFailure(message)) {
          initError ??= await initFailed(err instanceof Error ? err : new Error(message), options);
          throw initError;
        }
        throw new EdgefleetError('MODEL_LOAD_FAILED', `onnxruntime-web could not load the model: ${message}`, { cause: err });
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
      return createSession(session, inputs, outputs, proxy);
    },
  };
}

function runFailed(err: unknown): never {
  throw new EdgefleetError('INFERENCE_FAILED', `onnxruntime-web run failed: ${(err as Error).message}`, { cause: err });
}

function createSession(session: ort.InferenceSession, inputs: TensorSpec[], outputs: TensorSpec[], proxy: boolean): ModelSession {
  let released = false;
  return {
    inputs,
    outputs,
    // Not `async`: one `.then` on ort's promise, as in the Node runtime (design §5 hot path).
    run(feeds, outputNames) {
      if (released) return Promise.reject(new EdgefleetError('UNAVAILABLE', 'the model session was released'));
      const ortFeeds: Record<string, ort.Tensor> = {};
      try {
        for (const name in feeds) {
          const t = feeds[name]!;
          // ort.Tensor keeps a reference to `data`; the proxy worker takes input buffers by transfer, so copy there
          const data = proxy && !Array.isArray(t.data) ? t.data.slice() : t.data;
          ortFeeds[name] = new ort.Tensor(t.type, data as ort.Tensor.DataType, t.dims);
        }
        const pending =
          outputNames === undefined || outputNames.length === 0 ? session.run(ortFeeds) : session.run(ortFeeds, outputNames as string[]);
        return pending.then(tensorsFromOrt, runFailed);
      } catch (err) {
        return Promise.reject(err instanceof EdgefleetError ? err : new EdgefleetError('INFERENCE_FAILED', (err as Error).message, { cause: err }));
      }
    },
    async release() {
      if (released) return;
      released = true;
      await session.release();
    },
  };
}
