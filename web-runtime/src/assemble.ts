// The browser assembly of the device agent (design §5), like agent/src/node/assemble.ts for Node: the
// platform-neutral core wired to adapters. The adapters are handed in (agent.ts passes IndexedDB,
// onnxruntime-web and mqtt.js over WebSocket), so this file runs anywhere and tests hand it stand-ins.

import { createAgentCore, type AgentCore, type AgentCoreOptions, type AgentStore, type InferenceRuntime, type Transport } from '@edgefleet/agent/core';
import { fromBase64, topics, type AgentConfig, type DeviceEvent } from '@edgefleet/protocol';
import { parseWebAgentConfig } from './config.js';

export { parseWebAgentConfig } from './config.js';

/** The quota and usage of the origin's storage, as `navigator.storage.estimate()` gives them. */
export type StorageEstimateFn = () => Promise<{ quota?: number; usage?: number }>;

/** What the assembly needs from `navigator.storage` (tests hand a stand-in). */
export interface StorageLike {
  estimate?: StorageEstimateFn;
  persist?: () => Promise<boolean>;
  persisted?: () => Promise<boolean>;
}

export interface TransportOptions {
  urls: string[];
  clientId: string;
  username?: string;
  password?: string;
  will?: { topic: string; payload: string; retain: boolean; qos: 0 | 1 };
  log?: (line: string) => void;
}

/** The platform's adapters; agent.ts gives the browser's. */
export interface WebAdapters {
  openStore(options: { name: string; estimate?: StorageEstimateFn }): Promise<AgentStore>;
  createRuntime(options: { wasmPaths?: string; numThreads?: number; proxy?: boolean }): InferenceRuntime;
  createTransport(options: TransportOptions): Transport;
  sha256Stream(): { update(b: Uint8Array): void; digestHex(): string };
}

export interface WebAgentOptions {
  /** The agent config (what `edgefleet device add --out` writes); `brokers.ws` is the broker a browser uses. */
  config: unknown;
  store?: AgentStore;
  runtime?: InferenceRuntime;
  transport?: Transport;
  log?: (line: string) => void;
  /** Every event the agent emits, as it emits it (the page's recent events). */
  onEvent?: (event: DeviceEvent) => void;
  /** Where onnxruntime-web finds `ort-wasm-simd-threaded.{mjs,wasm}` (a URL prefix ending in `/`). */
  wasmPaths?: string;
  /** Threads for onnxruntime-web: more than 1 only works when the page is cross-origin isolated. Default 1. */
  numThreads?: number;
  /** Default `navigator.storage`. */
  storage?: StorageLike;
  /** Default `browser-<navigator.userAgentData.platform or 'web'>`. */
  platform?: string;
  /** Tuning the core (download window, retry backoff, outbox bound, …). */
  core?: Partial<Omit<AgentCoreOptions, 'deviceId' | 'rootPublicKey' | 'transport' | 'runtime' | 'store'>>;
}

/** The same AgentCore the Node agent uses, started, plus what the browser adds. */
export interface WebAgent extends AgentCore {
  readonly config: AgentConfig;
  /** What `navigator.storage.persist()` answered (null: not asked, no Storage API); false is no error. */
  readonly persisted: boolean | null;
  /** Whether the MQTT session is up now. */
  readonly connected: boolean;
}

/** `browser-<platform>` from User-Agent Client Hints when there are any (Chromium), else `browser-web`. */
export function browserPlatform(nav: unknown = globalThis.navigator): string {
  const p = (nav as { userAgentData?: { platform?: unknown } } | undefined)?.userAgentData?.platform;
  const name = typeof p === 'string' && p.trim() !== '' ? p.trim().toLowerCase().replace(/[^a-z0-9._-]+/g, '-') : 'web';
  return `browser-${name}`.slice(0, 64);
}

/** Ask once for persistent storage (headless Chromium answers false: not an error); null without the API. */
async function askPersist(storage: StorageLike | undefined, log: (line: string) => void): Promise<boolean | null> {
  if (!storage?.persist) return null;
  try {
    if (storage.persisted && (await storage.persisted())) return true;
    const granted = await storage.persist();
    if (!granted) log('storage.persist() answered false: the browser may evict this device under storage pressure');
    return granted;
  } catch (err) {
    log(`storage.persist() failed: ${err instanceof Error ? err.message : String(err)}`);
    return null;
  }
}

/** The reported resources of a browser: the origin's quota and usage, and what is left as diskFreeBytes. */
export async function storageResources(storage: StorageLike | undefined, startedAt: number, now: number): Promise<{ storageQuotaBytes?: number; storageUsageBytes?: number; diskFreeBytes?: number; uptimeSeconds: number }> {
  const uptimeSeconds = Math.max(0, (now - startedAt) / 1000);
  const e = await storage?.estimate?.().catch(() => undefined);
  const quota = typeof e?.quota === 'number' && e.quota >= 0 ? e.quota : undefined;
  const usage = typeof e?.usage === 'number' && e.usage >= 0 ? e.usage : undefined;
  return {
    uptimeSeconds,
    ...(quota !== undefined ? { storageQuotaBytes: quota } : {}),
    ...(usage !== undefined ? { storageUsageBytes: usage } : {}),
    ...(quota !== undefined && usage !== undefined ? { diskFreeBytes: Math.max(0, quota - usage) } : {}),
  };
}

/** Build, start and return the agent. A failure to start closes what it opened and rejects. */
export async function assembleWebAgent(options: WebAgentOptions, adapters: WebAdapters): Promise<WebAgent> {
  const config = parseWebAgentConfig(options.config);
  const log = options.log ?? (() => {});
  const storage = options.storage ?? (globalThis.navigator as { storage?: StorageLike } | undefined)?.storage;
  const estimate = storage?.estimate ? () => storage.estimate!() : undefined;
  const persisted = await askPersist(storage, log);

  const store = options.store ?? (await adapters.openStore({ name: `edgefleet-agent:${config.deviceId}`, ...(estimate ? { estimate } : {}) }));
  const ownsStore = !options.store;
  const transport =
    options.transport ??
    adapters.createTransport({
      urls: [config.brokers.ws!],
      clientId: config.deviceId,
      username: config.username,
      password: config.password,
      will: { topic: topics.status(config.deviceId), payload: 'offline', retain: true, qos: 1 },
      log,
    });
  const runtime = options.runtime ?? adapters.createRuntime({ ...(options.wasmPaths ? { wasmPaths: options.wasmPaths } : {}), numThreads: options.numThreads ?? 1 });
  const startedAt = Date.now();
  const core = createAgentCore({
    platform: options.platform ?? browserPlatform(),
    resources: () => storageResources(storage, startedAt, Date.now()),
    log,
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    sha256Stream: adapters.sha256Stream,
    ...(config.hubUrl ? { http: { baseUrl: config.hubUrl, username: config.deviceId, password: config.password } } : {}),
    // the device's own say over capture (design §4), as the Node agent takes it from agent.json
    ...(config.capture ? { capture: config.capture } : {}),
    ...options.core,
    deviceId: config.deviceId,
    rootPublicKey: fromBase64(config.rootPublicKey),
    transport,
    runtime,
    store,
  });
  try {
    // design §5 offline first: models in IndexedDB are re-checked, loaded and served before the broker answers
    await core.start();
  } catch (err) {
    await core.stop().catch(() => {});
    if (ownsStore) await store.close().catch(() => {});
    throw err;
  }
  const agent: WebAgent = {
    ...core,
    config,
    persisted,
    get connected() {
      return transport.connected;
    },
    // a getter of the core: the spread above copied its value at start, not the getter
    get captureEnabled() {
      return core.captureEnabled;
    },
    async stop() {
      await core.stop();
      if (ownsStore) await store.close();
    },
  };
  return agent;
}
