// @edgefleet/agent: the Node device agent (design §5) — `createAgent(config)` runs the platform-neutral
// core (`@edgefleet/agent/core`) on mqtt.js, onnxruntime-node, better-sqlite3 and the local OIP API.
// The package face: the assembly itself is node/assemble.ts.
export { createAgent, defaultPlatform, parseAgentConfig, type Agent, type AgentOptions } from './node/index.js';
export { createAgentCore } from './core/agent-core.js';
export type { AgentCore, ExplainCallOptions, InferOptions, InferResult } from './core/agent-core.js';
export { createOnnxRuntime, type OnnxRuntimeOptions } from './node/index.js';
export type { ExplainOptions, Manifest, OipExplainResponse, Tensor } from '@edgefleet/protocol';
// batch inference on device data (design §2 `edgefleet-agent batch`): a locked data dir's active verified model over a file
export { openOfflineModel, openSqliteStore, runBatch, summaryLine, type BatchModel, type BatchOptions, type BatchSummary, type OfflineModel } from './node/index.js';
