// What a device tells the hub about itself (design §4): reported state, presence, events.

import * as z from 'zod';
import { DeviceId, ErrorCodeSchema, IsoTime, ModelName, SemVer, Sha256Hex } from './primitives.js';

export const InstalledVersion = z.object({
  version: SemVer,
  release: z.number().int().min(1),
  sha256: Sha256Hex,
});
export type InstalledVersion = z.infer<typeof InstalledVersion>;

export const ModelState = z.enum([
  'idle',
  'downloading',
  'verifying',
  'self-testing',
  'active',
  'probation',
  'rolled-back',
  'failed',
]);
export type ModelState = z.infer<typeof ModelState>;

export const ReportedModel = z.object({
  active: InstalledVersion.nullable(),
  previous: InstalledVersion.nullable(),
  shadow: InstalledVersion.nullable(),
  /** The version being installed right now, if any. */
  pending: InstalledVersion.nullable().default(null),
  state: ModelState,
  progress: z.number().min(0).max(1).optional(),
  error: z.object({ code: ErrorCodeSchema, message: z.string().max(1024) }).nullable().default(null),
  rolloutId: z.string().max(64).optional(),
});
export type ReportedModel = z.infer<typeof ReportedModel>;

export const ReportedState = z.object({
  deviceId: DeviceId,
  agentVersion: SemVer,
  runtime: z.string().max(64),
  platform: z.string().max(64),
  desiredSequence: z.number().int().min(0),
  keyringVersion: z.number().int().min(0),
  models: z.record(ModelName, ReportedModel),
  resources: z
    .object({
      diskFreeBytes: z.number().min(0).optional(),
      rssBytes: z.number().min(0).optional(),
      uptimeSeconds: z.number().min(0).optional(),
      /** Browser devices: `navigator.storage.estimate()` (the origin's quota and what it uses). */
      storageQuotaBytes: z.number().min(0).optional(),
      storageUsageBytes: z.number().min(0).optional(),
    })
    .default({}),
  at: IsoTime,
});
export type ReportedState = z.infer<typeof ReportedState>;

export const DeviceStatus = z.enum(['online', 'offline']);
export type DeviceStatus = z.infer<typeof DeviceStatus>;

export const EVENT_TYPES = [
  'activated',
  'rolled-back',
  'verification-failed',
  'download-failed',
  'self-test-failed',
  'load-failed',
  'probation-passed',
  'shadow-started',
  'outbox-dropped',
  'keyring-updated',
  /** A `batch` command ran: its aggregate result (rows, failed, output file, class counts or mean) in `message`. */
  'batch-finished',
  'error',
] as const;

export const DeviceEvent = z.object({
  type: z.enum(EVENT_TYPES),
  model: ModelName.optional(),
  version: SemVer.optional(),
  code: ErrorCodeSchema.optional(),
  message: z.string().max(2048),
  at: IsoTime,
});
export type DeviceEvent = z.infer<typeof DeviceEvent>;
