// rollouts/: gated rollouts (design §7). A pure engine — spec.ts (what it reads and writes), engine.ts (the tick),
// commands.ts (pause, resume, abort, supersede, promote), outcomes.ts (wave evaluation), gate-config.ts and
// gates.ts (gate definitions and evaluation), waves.ts (wave planning), request.ts (API request → spec),
// claims.ts (fetch-backed convergence), wave-results.ts (a wave's result, frozen when it ends), views.ts (what the API shows) — and runner.ts, the one file that does
// I/O: the ticker, persistence through desired/, telemetry reads, notifications.
// May import: protocol, context, store/ rows, desired/, artifacts/ (Deliveries).
export { DEFAULT_DEVICE_TIMEOUT_MS, DEFAULT_SOAK_MS, createRolloutState, defaultMaxSoakMs, resolveRolloutSpec } from './spec.js';
export type {
  DeviceObservation,
  DeviceRecord,
  NotifyEvent,
  Observations,
  OnFail,
  OnNoEvidence,
  Role,
  RolloutAction,
  RolloutSpec,
  RolloutSpecInput,
  RolloutState,
  RolloutStatus,
  StepResult,
  WaveOutcome,
  WaveRecord,
} from './spec.js';
export { step } from './engine.js';
export { abort, pause, promote, resume, supersede } from './commands.js';
export { deviceOutcome, emptyHealth, gatesDue, healthQuery, waveCounts, type DeviceOutcome, type WaveCounts } from './outcomes.js';
export {
  DEFAULT_GATES,
  referenceCounts,
  resolveGateConfig,
  type Evidence,
  type GateConfig,
  type GateName,
  type GateResult,
  type ReferenceCounts,
  type VersionHealth,
  type WaveDeviceCounts,
} from './gate-config.js';
export { evaluateGates, evidenceText, failedGates, gateText, lackingEvidence, missingEvidence } from './gates.js';
export { DEFAULT_WAVES, assignWave, hashPoint, planWave, planWaves, validateWaves, waveQuota } from './waves.js';
export {
  DEFAULT_ROLLOUT_TICK_MS,
  createRolloutRunner,
  type RolloutCommand,
  type RolloutRunner,
  type RolloutRunnerOptions,
} from './runner.js';
export { allAtOnceDetail, type GateView, type RolloutDetail, type ShadowView, type WaveView } from './views.js';
export { endedWaves, type DeviceFailure, type WaveEnd, type WaveResult } from './wave-results.js';
