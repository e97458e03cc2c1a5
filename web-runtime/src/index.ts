// @edgefleet/web-runtime: the device agent in a browser or mobile web view (design §1, §5). The agent core
// on IndexedDB, onnxruntime-web and mqtt.js over WebSocket (`createWebAgent`, agent.ts); the Worker it runs
// in (worker.ts) and the page-side client, one agent per device id across tabs (client.ts); the Service
// Worker that keeps the device page working offline (sw.ts); the demo page (page/).
// Adapters: onnxruntime-web (wasm), Web Crypto hashing, mqtt.js over WebSocket (`@edgefleet/agent/mqtt`), IndexedDB.
export { createOrtWebRuntime, diagnoseWasmFetch, type OrtWebRuntime, type OrtWebRuntimeOptions } from './ort-web.js';
export { createSha256Stream, sha256HexOnce, type Sha256Stream } from './sha256.js';
export { openIndexedDbStore, type IndexedDbStoreOptions } from './idb-store.js';
export { createWebAgent, browserAdapters } from './agent.js';
export { assembleWebAgent, browserPlatform, parseWebAgentConfig, storageResources } from './assemble.js';
export type { StorageLike, TransportOptions, WebAdapters, WebAgent, WebAgentOptions } from './assemble.js';
export { createAgentClient } from './client.js';
export type { AgentClient, AgentClientOptions, InferAnswer, Role } from './client.js';
export { AgentRequest, AgentSnapshot, FromWorker, ModelInfo, TabMessage, TensorMessage, ToWorker, parseMessage } from './messages.js';
