// What the parts of the agent core share (design §5): the ports it was handed, and the one explicit
// state object every part reads and writes instead of free variables in a closure. Types and tiny
// helpers only; the parts are trust.ts, updater/, serving.ts, predictions.ts and reporter.ts.

import type { DeviceEvent, ErrorCode, Keyring, Manifest, TelemetrySettings, TelemetryWindow } from '@edgefleet/protocol';
import type { DownloadControl } from './downloader.js';
import type { AgentStore, Clock, Transport } from './ports.js';
import type { InferenceRuntime, ModelSession } from './runtime.js';
import type { ModelTelemetry } from './telemetry-recorder.js';
import type { ModelSlot, VersionRef, WantedModel } from './update-plan.js';

/** A loaded session serving one version of a model, as the active model or its shadow. */
export interface Live {
  name: string;
  ref: VersionRef;
  manifest: Manifest;
  session: ModelSession;
  telemetry: ModelTelemetry;
  role: 'active' | 'shadow';
  inflight: number;
  retired: boolean;
  /** Counting toward the probation verdict (design §5). */
  onProbation: boolean;
  /** The ring's shared (model, version, role, window) record for this window's predictions. */
  ringWindow: { model: string; version: string; role: 'active' | 'shadow'; start: number; end: number } | null;
}

/** What serves one model name: the active session, the shadow, and the counts its probation is judged on. */
export interface Served {
  active: Live | null;
  shadow: Live | null;
  stats: { inferences: number; errors: number };
  shadowQueued: number;
}

export interface StoredKeyring {
  raw: string;
  keyring: Keyring;
}

export interface StoredDesired {
  sequence: number;
  digest: string;
  models: WantedModel[];
  telemetry: Partial<TelemetrySettings> | undefined;
}

export type Refusal = { code: ErrorCode; message: string };

/** The agent core's shared mutable state. Everything else a part keeps is private to it. */
export interface AgentState {
  running: boolean;
  startedAt: number;
  /** The last (re)connect: batches PUBACKed before it may have died with the broker's queue (design §4). */
  connectedAt: number;
  /** This session's subscriptions are in place: chunk requests wait for it (frames sent before are dropped). */
  subscribed: boolean;
  /** Persisted after every transition (update-plan.ts). */
  slots: Record<string, ModelSlot>;
  served: Map<string, Served>;
  keyring: StoredKeyring | null;
  desired: StoredDesired | null;
  /** The last refusal of a keyring, desired state or command, reported until a desired state applies (design §3). */
  refusal: Refusal | null;
  settings: TelemetrySettings;
  /** Closed telemetry windows waiting to be queued in the outbox (design §6). */
  closedWindows: TelemetryWindow[];
  /** Wall clock = perfOrigin + performance.now(): the hot path reads one clock, not two (refreshed every tick). */
  perfOrigin: number;
  /** The download in progress, if any (cancelled when superseded or stopping). */
  download: { sha256: string; control: DownloadControl } | null;
}

export type EmitExtra = { model?: string; version?: string; code?: ErrorCode };

export interface AgentContext {
  readonly deviceId: string;
  readonly transport: Transport;
  readonly runtime: InferenceRuntime;
  readonly store: AgentStore;
  readonly clock: Clock;
  readonly log: (line: string) => void;
  readonly random: () => number;
  readonly digestOf: (bytes: Uint8Array) => string;
  readonly state: AgentState;
  count(name: string, n?: number): void;
  /** Some state changed: wakes `waitFor`. */
  changed(): void;
  /** Replace one slot and report it. */
  setSlot(slot: ModelSlot): void;
  saveSlots(): Promise<void>;
  /** Save a document; a refused write is kept and retried every tick (document-saver.ts). */
  persist(key: string, value: unknown): Promise<boolean>;
  /** A store write failed: logged and reported once per episode. */
  storageFailed(what: string, err: unknown): void;
  /** A device event (design §4 `events`), published at least once. */
  emit(type: DeviceEvent['type'], message: string, extra?: EmitExtra): void;
  /** One state-changing step at a time: verification, installs and rollbacks never interleave. */
  enqueue<T>(fn: () => Promise<T>): Promise<T>;
}

export function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

export async function manifestOf(store: AgentStore, sha256: string): Promise<Manifest | undefined> {
  return (await store.get<{ manifest: Manifest }>(`manifest:${sha256}`))?.manifest;
}
