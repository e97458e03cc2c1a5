// @edgefleet/web-runtime: the agent core in a browser or mobile web view — onnxruntime-web (wasm),
// Web Crypto hashing, mqtt.js over WebSocket (`@edgefleet/agent/mqtt`), IndexedDB.
export { createOrtWebRuntime, diagnoseWasmFetch, type OrtWebRuntime, type OrtWebRuntimeOptions } from './ort-web.js';
export { createSha256Stream, sha256HexOnce, type Sha256Stream } from './sha256.js';
export { openIndexedDbStore, type IndexedDbStoreOptions } from './idb-store.js';
