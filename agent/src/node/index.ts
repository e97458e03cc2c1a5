// node/: the agent core's Node adapters (design §5) and their assembly — mqtt.js transport, onnxruntime-node
// runtime, better-sqlite3 store, native Ed25519, the local OIP API on 127.0.0.1 — and createAgent, which
// hands them to the core (assemble.ts). May import the core and protocol; the core never imports this.
export { createAgent, defaultPlatform, parseAgentConfig, type Agent, type AgentOptions } from './assemble.js';
export { createOnnxRuntime, type OnnxRuntimeOptions } from './onnx-runtime.js';
export { createMqttTransport, reconnectDelay, type MqttTransport, type MqttTransportOptions } from '../mqtt/index.js';
export { openSqliteStore, type SqliteStoreOptions } from './sqlite-store.js';
export { createNodeSignatureVerifier, installNodeSignatureVerifier } from './ed25519.js';
export { startLocalApi, type LocalApi, type LocalApiOptions } from './local-api.js';
export { createLocalApiApp } from './local-api-app.js';
export { openOfflineModel, runBatch, summaryLine, type BatchModel, type BatchOptions, type BatchSummary, type OfflineModel } from './batch.js';
