// Drives the pure rollout engine (rollouts/, design §7): a ticker feeds it observations (reported states,
// online/last seen, merged telemetry of the wave's devices) and executes its actions — state persisted with
// the desired states it sends in one transaction, then published; audit rows; webhook notifications.

import {
  EdgefleetError,
  type Manifest,
  type ReportedState,
  type TelemetryWindow,
} from '@edgefleet/protocol';
import type { HubContext } from '../context.js';
import { deviceMatches, type DesiredStates, type EngineSends, type RolloutRequest } from '../desired/index.js';
import type { DeviceRow, RolloutRow } from '../store/db.js';
import { mergeHealth, windowsOf } from '../telemetry/index.js';
import type { Deliveries } from '../artifacts/index.js';
import { createClaimCheck } from './claims.js';
import { abort, pause, promote, resume, supersede } from './commands.js';
import { step } from './engine.js';
import { referenceCounts, type VersionHealth } from './gate-config.js';
import { emptyHealth, gatesDue, healthQuery } from './outcomes.js';
import { registerFleetGauges } from './fleet-gauges.js';
import { gatedStart, startPlan } from './request.js';
import type { DeviceObservation, Observations, RolloutAction, RolloutSpec, RolloutState, StepResult } from './spec.js';
import { allAtOnceDetail, gatedDetail, shadowView, type RolloutDetail } from './views.js';
import { endedWaves, type WaveResult } from './wave-results.js';

export const DEFAULT_ROLLOUT_TICK_MS = 1000;
/** The engine's actor in the audit log. */
const ENGINE = 'rollout-engine';
const LIVE = new Set(['running', 'soaking', 'paused']);
/** What ops alert on (`/metrics`): each outcome the engine announces, counted where it is decided. */
const OUTCOME_METRIC: Partial<Record<string, string>> = {
  'rollout-completed': 'edgefleet_rollouts_completed_total',
  'gate-failed': 'edgefleet_rollout_gate_failures_total',
  'rollout-paused': 'edgefleet_rollout_pauses_total',
  'rollout-rolled-back': 'edgefleet_rollout_rollbacks_total',
  'rollout-no-evidence': 'edgefleet_rollout_no_evidence_total',
};

export interface RolloutRunnerOptions {
  /** Ticker period (default 1 s). */
  tickMs?: number;
  /**
   * What the hub knows devices fetched (artifacts/ Deliveries): given, a device's claim to run the rollout's version
   * counts only when the hub served it that artifact whole or its telemetry since the send names the version.
   */
  deliveries?: Deliveries;
  /** How long a claim may stay unbacked before it is reported as inconsistent (default 5 min). */
  claimGraceMs?: number;
  /** Whether this hub ticks the engine: only the leader of several replicas does (default: always). */
  leading?: () => boolean;
}


export type RolloutCommand = 'pause' | 'resume' | 'abort' | 'promote';

export interface RolloutRunner {
  start(request: RolloutRequest, actor: string): Promise<RolloutDetail>;
  list(): Promise<RolloutDetail[]>;
  get(id: string): Promise<RolloutDetail>;
  command(id: string, command: RolloutCommand, actor: string, reason?: string): Promise<RolloutDetail>;
  /** One engine step for every live rollout (the ticker calls this; tests may too). */
  tick(): Promise<void>;
  close(): Promise<void>;
}

const ms = (iso: string | null | undefined): number | null => (iso ? Date.parse(iso) : null);
// desired/ reads the engine's persisted state through its own EngineSends type: keep the two compatible
type Compatible<T extends true> = T;
export type StateIsEngineSends = Compatible<RolloutState extends EngineSends ? true : false>;

/** A device as the engine sees it: its reported state for the rollout's model, online and last seen. */
function observeDevice(d: DeviceRow, model: string): DeviceObservation {
  const m = (d.reported as ReportedState | null)?.models?.[model];
  const o: DeviceObservation = {
    online: d.status === 'online',
    lastSeen: ms(d.lastSeen),
    activeVersion: m?.active?.version ?? null,
    shadowVersion: m?.shadow?.version ?? null,
    modelState: m?.state ?? 'idle',
  };
  if (m?.error?.code) o.errorCode = m.error.code;
  if (m?.error?.message) o.errorMessage = m.error.message;
  if (m?.rolloutId !== undefined) o.rolloutId = m.rolloutId;
  const at = ms(d.reportedAt);
  if (at !== null) o.reportedAt = at;
  return o;
}

/** Windows of one version merged by addition (design §6) into what the gates read: the health API's merge. */
function versionHealth(rows: ReadonlyArray<{ device: string; window: TelemetryWindow }>): VersionHealth {
  return mergeHealth(rows);
}

/** The version being replaced: of the other versions' windows, the one with the most inferences. */
function baselineHealth(rows: ReadonlyArray<{ device: string; window: TelemetryWindow }>): VersionHealth | undefined {
  const byVersion = new Map<string, Array<{ device: string; window: TelemetryWindow }>>();
  for (const r of rows) {
    const list = byVersion.get(r.window.version) ?? [];
    list.push(r);
    byVersion.set(r.window.version, list);
  }
  let best: Array<{ device: string; window: TelemetryWindow }> | undefined;
  let most = -1;
  for (const list of byVersion.values()) {
    const n = list.reduce((s, r) => s + r.window.inferences, 0);
    if (n > most) (most = n), (best = list);
  }
  return best ? versionHealth(best) : undefined;
}

export function createRolloutRunner(ctx: HubContext, desiredStates: DesiredStates, options: RolloutRunnerOptions = {}): RolloutRunner {
  const { store } = ctx;
  registerFleetGauges(ctx);
  const tickMs = options.tickMs ?? DEFAULT_ROLLOUT_TICK_MS;
  let chain: Promise<unknown> = Promise.resolve();
  let closed = false;
  const upSince = ctx.now().getTime();

  /** Ticks and operator commands change the same state: one at a time, in order. */
  const serial = <T>(fn: () => Promise<T> | T): Promise<T> => {
    const p = chain.then(fn);
    chain = p.catch(() => undefined);
    return p;
  };

  const mustRow = async (id: string): Promise<RolloutRow> => {
    const r = await store.getRollout(id);
    if (!r) throw new EdgefleetError('NOT_FOUND', `rollout ${id} not found`);
    return r;
  };

  const targetsOf = (row: RolloutRow, devices: readonly DeviceRow[]) => devices.filter((d) => deviceMatches(row.targets, d));

  const claims = options.deliveries
    ? createClaimCheck(options.deliveries, {
        graceMs: options.claimGraceMs,
        onUnbacked: (spec, state, id, now) => {
          ctx.metrics.inc('edgefleet_unbacked_claims_total', { model: spec.model });
          void ctx.store
            .insertEvent({
            deviceId: id,
            type: 'error',
            model: spec.model,
            version: spec.version,
            code: 'CONFLICT',
            message: `reports ${spec.model}@${spec.version} ${state.role}, but never fetched its artifact from the hub and sent no telemetry for it: not counted as converged (rollout ${spec.id})`,
            at: new Date(now).toISOString(),
            receivedAt: now,
            })
            .catch((err: unknown) => ctx.log(`rollout ${spec.id}: event for ${id}: ${String(err)}`));
          ctx.log(`rollout ${spec.id}: ${id} reports ${spec.model}@${spec.version} without fetching it; not counted as converged`);
        },
      })
    : null;

  const observations = async (row: RolloutRow, spec: RolloutSpec, state: RolloutState, devices: readonly DeviceRow[], now: number, withHealth: boolean): Promise<Observations> => {
    const targets = targetsOf(row, devices);
    const obs: Observations = { now, devices: {} };
    const sha = claims ? (await store.getModelVersion(spec.model, spec.version))?.sha256 : undefined;
    for (const d of targets) {
      const o = observeDevice(d, spec.model);
      await claims?.check(spec, state, sha, d.id, o, now);
      obs.devices[d.id] = o;
    }
    if (withHealth) {
      const q = healthQuery(state, now);
      if (q) {
        // judge the soak: from when the wave's devices had all converged, for candidate and baseline alike, so
        // the install itself (downloads, session loads on the devices) weighs on neither side
        const soakFrom = state.waves[q.wave]?.doneAt;
        if (soakFrom !== null && soakFrom !== undefined) q.from = soakFrom;
        obs.candidate = versionHealth(
          await windowsOf(ctx, { model: spec.model, version: spec.version, role: state.role, deviceIds: q.deviceIds, from: q.from, to: now + 1 }),
        );
        // design §7: the version being replaced, same time range — on target devices still running it, or
        // for a shadow the same devices' active version
        const baseIds = state.role === 'shadow' ? q.deviceIds : targets.map((d) => d.id);
        obs.baseline = baselineHealth(
          await windowsOf(ctx, { model: spec.model, notVersion: spec.version, role: 'active', deviceIds: baseIds, from: q.from, to: now + 1 }),
        );
        const mv = await store.getModelVersion(spec.model, spec.version);
        obs.reference = referenceCounts(mv ? (JSON.parse(mv.manifest) as Manifest).reference : undefined);
      }
    }
    return obs;
  };

  /** Persist the new state with the desired states it sends and its webhooks (one transaction), then publish. */
  const execute = async (
    row: RolloutRow,
    result: StepResult,
    actor: string,
    obs: Observations,
    extraAudit?: { action: string; details: Record<string, unknown> },
  ): Promise<void> => {
    // the waves this step ends, counted on what the step judged: stored once, never recomputed (design §7)
    const ended = endedWaves(row.spec as RolloutSpec, row.state as RolloutState, result.state, obs, result.actions);
    const ids = new Set<string>();
    for (const a of result.actions) if (a.type === 'send-desired' || a.type === 'send-previous') for (const id of a.deviceIds) ids.add(id);
    const at = ctx.now().toISOString();
    await desiredStates.commit(async () => {
      // another replica (its operator's command, or the leader's tick) may have moved the rollout since this
      // one read it: then nothing of this step is written, and the next tick starts from what it wrote
      if (!(await store.setRolloutStateIf(row.id, result.state.status, result.state, at, row.state))) {
        throw new EdgefleetError('CONFLICT', `rollout ${row.id} changed meanwhile (another replica acted on it): try again`);
      }
      await store.insertWaveResults(row.id, ended.map((w) => ({ wave: w.wave, endedAt: new Date(w.endedAt).toISOString(), result: w })));
      if (extraAudit) await store.appendAudit(actor, extraAudit.action, { id: row.id, ...extraAudit.details }, at);
      for (const a of result.actions) if (a.type === 'audit') await store.appendAudit(actor, a.action, { id: row.id, ...a.details }, at);
      // the step's webhooks go into the outbox with the step itself: delivered once it commits, never lost after
      for (const a of result.actions) if (a.type === 'notify') await ctx.notifier.enqueue(a.event, { id: row.id, ...a.details });
    }, [...ids].sort());
    // counted once committed (a step another replica moved first writes nothing)
    for (const a of result.actions) if (a.type === 'notify' && OUTCOME_METRIC[a.event]) ctx.metrics.inc(OUTCOME_METRIC[a.event]!);
  };

  const tickOne = async (row: RolloutRow, devices: readonly DeviceRow[]): Promise<void> => {
    const spec = row.spec as RolloutSpec;
    const state = row.state as RolloutState;
    const now = ctx.now().getTime();
    const due = gatesDue(spec, state, now);
    // a soak that ran out while the hub was down is judged only after the hub has listened for one soak:
    // devices buffer telemetry while it is away and deliver it when they reconnect
    if (due && now - upSince < spec.soakMs) return;
    const obs = await observations(row, spec, state, devices, now, due);
    const result = step(spec, state, obs);
    if (result.actions.length === 0 && JSON.stringify(result.state) === JSON.stringify(state)) return;
    await execute(row, result, ENGINE, obs);
  };

  /** Live gated rollouts, and completed ones no newer rollout of the model and role has replaced (late joiners). */
  const tickable = async (): Promise<RolloutRow[]> => {
    const rows = await store.listRollouts();
    return rows.filter((r) => {
      if (!r.state) return false;
      if (LIVE.has(r.status)) return true;
      if (r.status !== 'completed') return false;
      return !rows.some((n) => n.seq > r.seq && n.model === r.model && n.role === r.role && n.status !== 'aborted');
    });
  };

  const tick = () =>
    serial(async () => {
      if (closed || !(options.leading?.() ?? true)) return;
      const rows = await tickable();
      if (rows.length === 0) return;
      const devices = await store.listDevices();
      for (const row of rows) {
        try {
          await tickOne(row, devices);
        } catch (err) {
          ctx.log(`rollout ${row.id}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        }
      }
    });

  /** Shadow rollouts: the shadow against the active version on the devices the rollout reached. */
  const shadowOf = async (row: RolloutRow, state: RolloutState, now: number) => {
    const spec = row.spec as RolloutSpec | null;
    if (!spec?.shadow) return null;
    const ids = Object.keys(state.devices);
    const from = state.createdAt;
    const shadow = versionHealth(await windowsOf(ctx, { model: spec.model, version: spec.version, role: 'shadow', deviceIds: ids, from, to: now + 1 }));
    const active = baselineHealth(await windowsOf(ctx, { model: spec.model, notVersion: spec.version, role: 'active', deviceIds: ids, from, to: now + 1 }));
    return shadowView(shadow, active);
  };

  const detail = async (row: RolloutRow, devices: readonly DeviceRow[], withShadow = true): Promise<RolloutDetail> => {
    const base = await desiredStates.get(row.id);
    if (!row.state || !row.spec) return allAtOnceDetail(base);
    const spec = row.spec as RolloutSpec;
    const state = row.state as RolloutState;
    const now = ctx.now().getTime();
    const obs = await observations(row, spec, state, devices, now, false);
    const frozen = (await store.waveResults(row.id)) as WaveResult[];
    return gatedDetail(base, spec, state, obs, frozen, withShadow ? await shadowOf(row, state, now) : null);
  };

  /**
   * The engine's next step now, on the request path (the first wave goes out at once, not on the next tick).
   * The leader (another replica) may take that step first: its write wins and this one is not needed.
   */
  const nextStep = async (id: string): Promise<void> => {
    try {
      await tickOne(await mustRow(id), await store.listDevices());
    } catch (err) {
      if (!(err instanceof EdgefleetError && err.code === 'CONFLICT')) throw err;
    }
  };

  /**
   * A new rollout of the same model (and role) supersedes the running one, explicitly and audited. Another
   * replica may move that rollout meanwhile (its tick, or a rollout started there superseding it too): read it
   * again and supersede what it is now, if it still runs. Only older rollouts: one started at the same time on
   * another replica is newer (its `seq`), and it supersedes this one.
   */
  const supersedeRunning = async (model: string, role: 'active' | 'shadow', byId: string, actor: string): Promise<void> => {
    const by = await mustRow(byId);
    for (const listed of await store.listRollouts()) {
      if (listed.seq >= by.seq || listed.model !== model || listed.role !== role) continue;
      for (let r: RolloutRow | undefined = listed, attempt = 0; r?.state && LIVE.has(r.status); r = await store.getRollout(r.id), attempt++) {
        try {
          const now = ctx.now().getTime();
          const obs = await observations(r, r.spec as RolloutSpec, r.state as RolloutState, await store.listDevices(), now, false);
          await execute(r, supersede(r.spec as RolloutSpec, r.state as RolloutState, byId, now), actor, obs);
          break;
        } catch (err) {
          if (!(err instanceof EdgefleetError && err.code === 'CONFLICT') || attempt >= 10) throw err;
        }
      }
    }
  };

  const timer = setInterval(() => void tick().catch((err) => ctx.log(`rollout tick: ${String(err)}`)), tickMs);
  timer.unref();

  return {
    start: (request, actor) =>
      serial(async () => {
        const plan = startPlan(request);
        // the one start path (desired/): version, release floor, id and the stored row with its audit
        const v = await desiredStates.start(request, actor, plan.gated ? (id, release, now) => gatedStart(request, plan, id, release, now) : undefined);
        await supersedeRunning(request.model, plan.role, v.id, actor);
        // the first wave goes out now, not on the next tick
        if (plan.gated) await nextStep(v.id);
        return detail(await mustRow(v.id), await store.listDevices());
      }),
    async list() {
      const devices = await store.listDevices();
      // the list (dashboard overview, `rollout ls`) skips the shadow comparison: one telemetry query per rollout
      const out: RolloutDetail[] = [];
      for (const r of await store.listRollouts()) out.push(await detail(r, devices, false));
      return out;
    },
    get: async (id) => detail(await mustRow(id), await store.listDevices()),
    command: (id, command, actor, reason) =>
      serial(async () => {
        const row = await mustRow(id);
        if (!row.state || !row.spec) {
          if (command === 'abort') {
            await desiredStates.abort(id, actor);
            return detail(await mustRow(id), await store.listDevices());
          }
          throw new EdgefleetError('CONFLICT', `rollout ${id} was issued all at once; it has no waves to ${command}`);
        }
        const spec = row.spec as RolloutSpec;
        const state = row.state as RolloutState;
        const now = ctx.now().getTime();
        const why = reason ?? `${command} by ${actor}`;
        const res =
          command === 'pause'
            ? pause(spec, state, why, now)
            : command === 'resume'
              ? resume(spec, state, now)
              : command === 'abort'
                ? abort(spec, state, why, now)
                : promote(spec, state, now);
        // design §7: abort returns every device the rollout reached to what it ran before
        if (command === 'abort') {
          const ids = Object.keys(state.devices);
          if (ids.length) res.actions.push({ type: 'send-previous', deviceIds: ids } satisfies RolloutAction);
        }
        // the operator's action under its own name; the engine's rows (same transaction) say what it did
        const obs = await observations(row, spec, state, await store.listDevices(), now, false);
        await execute(row, res, actor, obs, { action: `rollout.${command}`, details: { wave: state.wave, ...(reason ? { reason } : {}) } });
        if (command === 'resume' || command === 'promote') await nextStep(id);
        return detail(await mustRow(id), await store.listDevices());
      }),
    tick,
    async close() {
      closed = true;
      clearInterval(timer);
      await chain.catch(() => undefined);
    },
  };
}
