// desired/: desired states and assignments (design §3, §7). Which versions each device should run follows from
// the rollouts that target it (assignments.ts, pure); issue.ts signs, stores and publishes the desired states
// and is the one way a rollout starts; request.ts is the API's rollout request.
// May import: protocol, context, store/ (rows and the Store). Not the rollout engine, which drives it.
export { DESIRED_LIFETIME_MS, createDesiredStates, type DesiredStates, type DesiredStatesOptions, type GatedStart, type RolloutView } from './issue.js';
export { assignmentsFor, deviceMatches, type Assignment, type EngineSends } from './assignments.js';
export { RolloutRequest, Targets, rolloutTargets } from './request.js';
export { CapturePolicyRule } from './capture-policies.js';
