// What the agent tells the hub (design §4, §6): the retained reported state, device events (kept in the
// store while offline) and the telemetry outbox, drained in batches with or without the hub's confirmation.

import { LIMITS, toEdgefleetError, topics, type DeviceEvent, type ReportedModel, type ReportedState } from '@edgefleet/protocol';
import { clip, type AgentContext, type EmitExtra } from './context.js';
import { withholdWindows, type Capture } from './capture.js';
import type { Predictions } from './predictions.js';
import type { ModelSlot } from './update-plan.js';

export const AGENT_VERSION = '0.1.0';

export interface ReporterOptions {
  platform?: string;
  resources?: () => Promise<ReportedState['resources']>;
  /** Outbox bound in windows; oldest dropped first (design §5). */
  outboxMaxWindows: number;
  /** With telemetry `confirm`: a PUBACKed batch not confirmed by the hub this long is sent again. */
  confirmTimeoutMs: number;
  predictions: Predictions;
  /** Captured field data waiting for the outbox (design §4 capture). */
  capture?: Capture;
  onEvent?: (event: DeviceEvent) => void;
}

export interface Reporter {
  /** Publish the reported state soon (coalesced: one retained publish for a burst of changes). */
  scheduleReport(): void;
  buildReported(): ReportedState;
  publishReported(): Promise<void>;
  emit(type: DeviceEvent['type'], message: string, extra?: EmitExtra): void;
  flushEvents(): Promise<void>;
  /** Queue closed windows and predictions in the store, then send what the outbox holds. */
  flushOutbox(): Promise<void>;
  /** The hub confirmed these telemetry batches (command `telemetry-confirm`). */
  confirmTelemetry(ranges: ReadonlyArray<readonly [from: number, to: number]>): Promise<void>;
  /** Unsent events from before the last stop or crash. */
  restore(): Promise<void>;
  /** Stopping: no more reported-state publishes. */
  stopTimer(): void;
  /** Stopping: windows and predictions kept in the store; they are sent after the next start. */
  keepTelemetry(): Promise<void>;
}

function reportedModel(slot: ModelSlot): ReportedModel {
  const m: ReportedModel = {
    active: slot.active && { version: slot.active.version, release: slot.active.release, sha256: slot.active.sha256 },
    previous: slot.previous && { version: slot.previous.version, release: slot.previous.release, sha256: slot.previous.sha256 },
    shadow: slot.shadow && { version: slot.shadow.version, release: slot.shadow.release, sha256: slot.shadow.sha256 },
    pending: slot.pending && { version: slot.pending.version, release: slot.pending.release, sha256: slot.pending.sha256 },
    state: slot.state,
    error: slot.error ? { code: slot.error.code, message: clip(slot.error.message, 1024) } : null,
  };
  if (slot.progress !== undefined) m.progress = Math.max(0, Math.min(1, slot.progress));
  if (slot.rolloutId !== undefined) m.rolloutId = slot.rolloutId;
  return m;
}

export function createReporter(ctx: AgentContext, options: ReporterOptions): Reporter {
  const { deviceId, transport, store, clock, log, count, state } = ctx;
  const { predictions } = options;
  const outboxMax = options.outboxMaxWindows;
  const events: DeviceEvent[] = [];
  let lastResources: ReportedState['resources'] = {};
  let reportTimer: unknown = null;
  let flushingEvents = false;
  let flushingOutbox = false;

  function scheduleReport(): void {
    if (reportTimer !== null || !state.running) return;
    reportTimer = clock.setTimeout(() => {
      reportTimer = null;
      void publishReported();
    }, 20);
  }

  function buildReported(): ReportedState {
    const models: Record<string, ReportedModel> = {};
    for (const slot of Object.values(state.slots)) models[slot.name] = reportedModel(slot);
    const r: ReportedState = {
      deviceId,
      agentVersion: AGENT_VERSION,
      runtime: clip(ctx.runtime.name, 64),
      platform: clip(options.platform ?? 'unknown', 64),
      desiredSequence: state.desired?.sequence ?? 0,
      keyringVersion: state.keyring?.keyring.version ?? 0,
      models,
      resources: { ...lastResources, uptimeSeconds: Math.max(0, (clock.now() - state.startedAt) / 1000) },
      at: new Date(clock.now()).toISOString(),
    };
    if (state.refusal) (r as ReportedState & { refusal?: unknown }).refusal = state.refusal;
    return r;
  }

  async function publishReported(): Promise<void> {
    if (!transport.connected) return;
    try {
      if (options.resources) lastResources = await options.resources();
      await transport.publish(topics.reported(deviceId), JSON.stringify(buildReported()), { qos: 1, retain: true });
    } catch (err) {
      log(`reported not published: ${String(err)}`);
    }
  }

  function emit(type: DeviceEvent['type'], message: string, extra: EmitExtra = {}): void {
    const ev: DeviceEvent = { type, message: clip(message, 2048), at: new Date(clock.now()).toISOString(), ...extra };
    log(`event ${type}${extra.code ? ` ${extra.code}` : ''}: ${message}`);
    options.onEvent?.(ev);
    events.push(ev);
    if (events.length > 256) {
      events.shift(); // bounded while offline; the oldest event is the least useful
      count('eventsDropped');
    }
    count(`event.${type}`);
    saveEvents();
    void flushEvents();
    ctx.changed();
  }

  /**
   * Unsent events live in the store too, so an agent that crashes or stops while offline still reports
   * why it rolled back once it reconnects (at least once: a crash between publish and save sends one again).
   */
  function saveEvents(): void {
    store.put('events', events.slice()).catch((err: unknown) => ctx.storageFailed('saving events', err));
  }

  async function flushEvents(): Promise<void> {
    if (flushingEvents || !transport.connected) return;
    flushingEvents = true;
    try {
      while (events.length > 0 && transport.connected) {
        const ev = events[0]!;
        await transport.publish(topics.events(deviceId), JSON.stringify(ev), { qos: 1 });
        events.shift();
        saveEvents();
      }
    } catch (err) {
      log(`events not published: ${String(err)}`);
    } finally {
      flushingEvents = false;
    }
  }

  /** Moves closed windows into the store's outbox; false when the store refused them (kept in memory). */
  async function queueWindows(): Promise<boolean> {
    const closed = state.closedWindows;
    if (closed.length === 0) return true;
    const windows = closed.splice(0, closed.length);
    withholdWindows(windows, state.settings.capture);
    let dropped: number;
    try {
      dropped = await store.outboxAppend(windows, outboxMax);
    } catch (err) {
      // not queued: kept in memory (bounded like the outbox) until the store takes them
      closed.unshift(...windows);
      const over = closed.length - outboxMax;
      if (over > 0) {
        closed.splice(0, over);
        count('outboxDropped', over);
      }
      ctx.storageFailed('queueing telemetry', err);
      return false;
    }
    count('windowsQueued', windows.length);
    if (dropped > 0) {
      count('outboxDropped', dropped);
      emit('outbox-dropped', `telemetry outbox full: dropped ${dropped} oldest window(s)`);
    }
    return true;
  }

  /** Moves captured rows into the store's outbox under its disk budget; false when the store refused them. */
  async function queueCaptures(): Promise<boolean> {
    const taken = options.capture?.take();
    if (!taken || !store.captureAppend) return true;
    try {
      const dropped = await store.captureAppend(taken.rows, taken.diskBytes, taken.drops);
      if (dropped > 0) count('captureDiskDropped', dropped);
    } catch (err) {
      options.capture!.putBack(taken);
      ctx.storageFailed('queueing captured rows', err);
      return false;
    }
    return true;
  }

  async function flushOutbox(): Promise<void> {
    if (flushingOutbox) return;
    flushingOutbox = true;
    try {
      await predictions.save().catch((err: unknown) => ctx.storageFailed('saving predictions', err));
      if (!(await queueWindows())) return;
      if (!(await queueCaptures())) return;
      while (transport.connected) {
        // design §4: with `confirm`, a PUBACKed batch waits for the hub's confirmation and goes again (same
        // seq, de-duplicated by the hub) after a timeout or a reconnect; without it, sent ones go again now
        const confirm = state.settings.confirm === true;
        const resendBefore = confirm ? Math.max(clock.now() - options.confirmTimeoutMs, state.connectedAt) : Number.MAX_SAFE_INTEGER;
        const batch = await store.outboxNext(LIMITS.windowsPerBatch, LIMITS.telemetry - 4096, resendBefore);
        if (!batch) break;
        const caps = { ...(batch.captures ? { captures: batch.captures } : {}), ...(batch.capturesDropped ? { capturesDropped: batch.capturesDropped } : {}) };
        const body = JSON.stringify({ deviceId, seq: batch.seq, windows: batch.windows, dropped: batch.dropped, ...caps, ...(confirm ? { confirm } : {}) });
        await transport.publish(topics.telemetry(deviceId), body, { qos: 1 });
        if (confirm) await store.outboxSent(batch.seq, clock.now());
        else await store.outboxAck(batch.seq);
        count(batch.resent ? 'batchesResent' : 'batchesSent');
        if (!batch.resent) count('windowsSent', batch.windows.length);
        if (!batch.resent && batch.captures) count('capturesSent', batch.captures.length);
      }
    } catch (err) {
      if (toEdgefleetError(err).code === 'DISK_FULL') ctx.storageFailed('sending telemetry', err);
      else log(`outbox not drained: ${String(err)}`);
    } finally {
      flushingOutbox = false;
    }
  }

  return {
    scheduleReport,
    buildReported,
    publishReported,
    emit,
    flushEvents,
    flushOutbox,

    async confirmTelemetry(ranges) {
      try {
        count('batchesConfirmed', await store.outboxConfirm(ranges));
      } catch (err) {
        ctx.storageFailed('confirming telemetry', err);
      }
    },

    async restore() {
      events.unshift(...((await store.get<DeviceEvent[]>('events')) ?? []).slice(-256));
    },

    stopTimer() {
      if (reportTimer !== null) clock.clearTimeout(reportTimer);
    },

    async keepTelemetry() {
      if (state.closedWindows.length > 0) {
        const windows = state.closedWindows.splice(0);
        withholdWindows(windows, state.settings.capture);
        await store.outboxAppend(windows, outboxMax).catch(() => 0);
      }
      await queueCaptures();
      await predictions.save().catch(() => {});
    },
  };
}
