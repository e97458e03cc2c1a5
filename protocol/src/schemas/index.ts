// zod schemas for every document and message of design §3, §4 and §6; each type shares its schema's name.
// Times in signed documents and events are ISO 8601 strings; telemetry window bounds are epoch milliseconds.
// One file per concern: the signed documents hub → device, what devices report, telemetry, the agent config.
export * from './primitives.js';
export * from './signed.js';
export * from './manifest.js';
export * from './desired.js';
export * from './reported.js';
export * from './agent-config.js';
export * from './capture.js';
export { Histogram } from '../telemetry/histogram.js';
export * from '../telemetry/schemas.js';
