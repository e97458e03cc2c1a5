// Gated rollouts (design §7): the pure engine, its gates and wave planning. The hub owns persistence,
// the ticker and executing actions; this folder never does I/O.
export { DEFAULT_DEVICE_TIMEOUT_MS, DEFAULT_SOAK_MS, createRolloutState, resolveRolloutSpec } from './spec.js';
export type {
  DeviceObservation,
  DeviceRecord,
  NotifyEvent,
  Observations,
  OnFail,
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
  type GateConfig,
  type GateName,
  type GateResult,
  type ReferenceCounts,
  type VersionHealth,
  type WaveDeviceCounts,
} from './gate-config.js';
export { evaluateGates, failedGates } from './gates.js';
export { DEFAULT_WAVES, assignWave, hashPoint, planWave, planWaves, validateWaves, waveQuota } from './waves.js';
