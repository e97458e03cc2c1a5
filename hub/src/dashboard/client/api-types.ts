// The hub API's answers as the dashboard reads them. Type-only imports from protocol and the hub's rooms:
// esbuild erases them, so no hub code reaches the browser, and an API type change fails this client's
// typecheck instead of a page at run time. Every hub type the client uses is imported here, in one place.

import type { DeviceEvent, ErrorCode, ModelState, ReportedState } from '@edgefleet/protocol';
// every hub type through the hub's face (hub/src/index.ts): the API's clients, this one and the CLI,
// depend on what the API answers, not on the rooms behind it
import type {
  DeviceView,
  EnrolmentLink,
  FleetOverview,
  FleetStatus,
  GateResult,
  HealthGroups,
  HealthReport,
  ModelRegistry,
  ModelVersionView,
  Role,
  RolloutCommand,
  RolloutDetail,
  RolloutRequest,
  RolloutStatus,
  RolloutTargets,
  RolloutView,
  TagIndex,
  WaveView,
} from '../../index.js';

export type { ErrorCode, FleetOverview, FleetStatus, GateResult, HealthGroups, HealthReport, TagIndex, ModelState, ModelVersionView, RolloutCommand, RolloutStatus, RolloutTargets, WaveView };

/** An event type a device sends (protocol), or one the hub records itself (telemetry/alarms). */
export type EventType = DeviceEvent['type'] | 'device-silent';

/** GET /whoami: the caller's token and role. */
export interface WhoAmI {
  id: string;
  kind: 'token' | 'device';
  role: Role | null;
}

/** A device as the API lists it; `reported` is the agent's last reported state (null before the first). */
export type Device = Omit<DeviceView, 'reported'> & { reported: ReportedState | null };
/** GET /devices?limit=…: one filtered page and the total. */
export interface DevicePage {
  devices: Device[];
  total: number;
}
/** GET /devices/:id: the device and its recent events (the same rows as the overview's events). */
export interface DeviceDetail {
  device: Device;
  events: FleetOverview['events'];
}

/** POST /devices/:id/enrolment: a one-time code (shown once) and the device page's link carrying it. */
export type EnrolmentCreated = EnrolmentLink;

/** GET /models. */
export interface ModelList {
  models: Awaited<ReturnType<ModelRegistry['list']>>;
}
/** GET /models/:name. */
export type ModelDetail = Awaited<ReturnType<ModelRegistry['get']>>;

/** A rollout: the runner's detail (waves, gates) or, on a hub without the runner, the plain view. */
export type Rollout = RolloutView & Partial<Omit<RolloutDetail, keyof RolloutView>>;
/** The request options a rollout keeps (desired/desired.ts stores exactly these). */
export type RolloutOptions = Pick<RolloutRequest, 'waves' | 'soak' | 'onFail'>;
/** GET /rollouts. */
export interface RolloutList {
  rollouts: Rollout[];
}
/** GET /rollouts/:id and POST /rollouts/:id/{pause,resume,abort,promote}. */
export interface RolloutAnswer {
  rollout: Rollout;
}
