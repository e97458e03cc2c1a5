// @edgefleet/agent/core: the platform-neutral agent (design §5) that Node and the browser runtime share.
export { createAgentCore, AGENT_VERSION } from './agent-core.js';
export type { AgentCore, AgentCoreOptions, ExplainCallOptions, InferOptions, InferResult } from './agent-core.js';
export { explainPrediction, type ExplainedModel, type Explanation, type ExplainLimits } from './explain.js';
export { systemClock } from './ports.js';
export { createMemoryStore, type MemoryStoreOptions } from './memory-store.js';
export type { AgentStore, CaptureDrops, Clock, OutboxBatch, PredictionRecord, PublishOptions, SubscribeOutcome, Transport } from './ports.js';
export type { InferenceRuntime, ModelSession } from './runtime.js';
export { tensorSpecsOf, tensorsFromOrt, type OrtValueMetadata } from './ort-values.js';
export type { InferenceService, ModelMetadata, InferResponse, FeedbackBody, ServerMetadata } from './inference-service.js';
export type { Tensor } from '@edgefleet/protocol';
export { planUpdates, probationVerdict, onAgentStart, activated, rolledBack, emptySlot, DEFAULT_TELEMETRY } from './update-plan.js';
export type { ModelSlot, VersionRef, WantedModel, Probation } from './update-plan.js';
