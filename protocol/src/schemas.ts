// zod schemas for every document and message of design §3, §4 and §6; each type shares its schema's name.
// Times in signed documents and events are ISO 8601 strings; telemetry window bounds are epoch milliseconds.
// One file per concern: the signed documents hub → device, what devices report, telemetry, the agent config.
export * from './schemas/primitives.js';
export * from './schemas/signed.js';
export * from './schemas/manifest.js';
export * from './schemas/desired.js';
export * from './schemas/reported.js';
export * from './schemas/agent-config.js';
export { Histogram } from './telemetry/histogram.js';
export * from './telemetry/schemas.js';
