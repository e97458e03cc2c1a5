// @edgefleet/protocol: the wire contract shared by hub, agent and browser runtime. Pure: no node:* imports.
// The ONNX builder and reader (protobufjs) are `@edgefleet/protocol/onnx`: hub push, tests and tools need
// them, a device agent does not (loading protobufjs costs an idle agent ~8 MB).
export * from './errors.js';
export * from './topics.js';
export * from './limits.js';
export * from './schemas/index.js';
export * from './encoding.js';
export * from './signing.js';
export * from './verify.js';
export * from './frames.js';
export * from './telemetry/index.js';
export * from './tensors/index.js';
export * from './duration.js';
export * from './address.js';
export * from './random.js';
