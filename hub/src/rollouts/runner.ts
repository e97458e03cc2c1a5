// Drives the pure rollout engine (rollouts/, design §7): a ticker feeds it observations (reported states,
// online/last seen, merged telemetry of the wave's devices) and executes its actions — state persisted with
// the desired states it sends in one transaction, then published; audit rows; webhook notifications.

import { randomBytes } from 'node:crypto';
import {
  EdgefleetError,
  histogramQuantile,
  type Manifest,
  type ReportedState,
  type TelemetryWindow,
} from '@edgefleet/protocol';
import type { HubContext } from '../context.js';
import { deviceMatches, type Deployments, type RolloutRequest, type RolloutView } from '../desired/desired.js';
import type { DeviceRow, RolloutRow } from '../store/db.js';
import { mergeHealth, windowsOf } from '../telemetry/index.js';
import { createClaimCheck, type Deliveries } from '../artifacts/deliveries.js';
import {
  DEFAULT_SOAK_MS,
  DEFAULT_WAVES,
  abort,
  createRolloutState,
  gatesDue,
  healthQuery,
  pause,
  promote,
  referenceCounts,
  resolveRolloutSpec,
  resume,
  step,
  supersede,
  waveCounts,
  type DeviceObservation,
  type DeviceOutcome,
  type GateConfig,
  type GateResult,
  type Observations,
  type RolloutAction,
  type RolloutSpec,
  type RolloutState,
  type StepResult,
  type VersionHealth,
  type WaveOutcome,
} from './index.js';

export const DEFAULT_ROLLOUT_TICK_MS = 1000;
/** The engine's actor in the audit log. */
const ENGINE = 'rollout-engine';
const LIVE = new Set(['running', 'soaking', 'paused']);

/** "10m", "30s", "1h", "250ms", "1d" or a number of milliseconds. */
export function parseDuration(v: string | number | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number') return v;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(v);
  if (!m) throw new EdgefleetError('BAD_INPUT', `${what}: expected a duration like 30s, 10m, 1h or milliseconds, got ${JSON.stringify(v)}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 'ms') as 'ms'];
  return Math.round(Number(m[1]) * unit);
}

export interface WaveView {
  index: number;
  percent: number;
  outcome: WaveOutcome;
  startedAt: string;
  doneAt: string | null;
  gatesAt: string | null;
  /** Devices in the wave (the dashboard's progress total). */
  devices: number;
  converged: number;
  counts: Record<DeviceOutcome, number> & { total: number };
  /** Device ids per outcome: pending, converged, failed, skipped (offline past the timeout), left. */
  byOutcome: Record<DeviceOutcome, string[]>;
  gates: GateResult[];
}

export interface ShadowView {
  compared: number;
  agreed: number;
  agreement: number | null;
  latencyMs: { shadow: { p50: number | null; p95: number | null }; active: { p50: number | null; p95: number | null } };
}

export interface RolloutDetail extends RolloutView {
  /** Wave plan (cumulative percents) and options of a gated rollout; all-at-once rollouts have none. */
  plan: { waves: number[]; soakMs: number; onFail: 'pause' | 'rollback'; shadow: boolean; deviceTimeoutMs: number; gates: GateConfig } | null;
  /** Current wave index (0-based), -1 before the first. */
  wave: number;
  waves: WaveView[];
  /** The latest evaluated gates (value against limit, pass / fail / no verdict). */
  gates: GateResult[];
  pausedReason: string | null;
  supersededBy: string | null;
  /** Shadow rollouts: agreement with and latency against the active version on the rollout's devices. */
  shadow: ShadowView | null;
}

export interface RolloutRunnerOptions {
  /** Ticker period (default 1 s). */
  tickMs?: number;
  /**
   * What the hub knows devices fetched (deliveries.ts): given, a device's claim to run the rollout's version
   * counts only when the hub served it that artifact whole or its telemetry since the send names the version.
   */
  deliveries?: Deliveries;
  /** How long a claim may stay unbacked before it is reported as inconsistent (default 5 min). */
  claimGraceMs?: number;
}


export type RolloutCommand = 'pause' | 'resume' | 'abort' | 'promote';

export interface RolloutRunner {
  start(request: RolloutRequest, actor: string): Promise<RolloutDetail>;
  list(): RolloutDetail[];
  get(id: string): RolloutDetail;
  command(id: string, command: RolloutCommand, actor: string, reason?: string): Promise<RolloutDetail>;
  /** One engine step for every live rollout (the ticker calls this; tests may too). */
  tick(): Promise<void>;
  close(): Promise<void>;
}

const ms = (iso: string | null | undefined): number | null => (iso ? Date.parse(iso) : null);
const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

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

export function createRolloutRunner(ctx: HubContext, deployments: Deployments, options: RolloutRunnerOptions = {}): RolloutRunner {
  const { store } = ctx;
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

  const mustRow = (id: string): RolloutRow => {
    const r = store.getRollout(id);
    if (!r) throw new EdgefleetError('NOT_FOUND', `rollout ${id} not found`);
    return r;
  };

  const targetsOf = (row: RolloutRow, devices: readonly DeviceRow[]) => devices.filter((d) => deviceMatches(row.targets, d));

  const claims = options.deliveries ? createClaimCheck(ctx, options.deliveries, options.claimGraceMs) : null;

  const observations = (row: RolloutRow, spec: RolloutSpec, state: RolloutState, devices: readonly DeviceRow[], now: number, withHealth: boolean): Observations => {
    const targets = targetsOf(row, devices);
    const obs: Observations = { now, devices: {} };
    const sha = claims ? store.getModelVersion(spec.model, spec.version)?.sha256 : undefined;
    for (const d of targets) {
      const o = observeDevice(d, spec.model);
      claims?.check(spec, state, sha, d.id, o, now);
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
          windowsOf(ctx, { model: spec.model, version: spec.version, role: state.role, deviceIds: q.deviceIds, from: q.from, to: now + 1 }),
        );
        // design §7: the version being replaced, same time range — on target devices still running it, or
        // for a shadow the same devices' active version
        const baseIds = state.role === 'shadow' ? q.deviceIds : targets.map((d) => d.id);
        obs.baseline = baselineHealth(
          windowsOf(ctx, { model: spec.model, notVersion: spec.version, role: 'active', deviceIds: baseIds, from: q.from, to: now + 1 }),
        );
        const mv = store.getModelVersion(spec.model, spec.version);
        obs.reference = referenceCounts(mv ? (JSON.parse(mv.manifest) as Manifest).reference : undefined);
      }
    }
    return obs;
  };

  /** Persist the new state with the desired states it sends (one transaction), publish, then notify. */
  const execute = async (row: RolloutRow, result: StepResult, actor: string, extraAudit?: { action: string; details: Record<string, unknown> }): Promise<void> => {
    const ids = new Set<string>();
    for (const a of result.actions) if (a.type === 'send-desired' || a.type === 'send-previous') for (const id of a.deviceIds) ids.add(id);
    const at = ctx.now().toISOString();
    await deployments.commit(() => {
      store.setRolloutState(row.id, result.state.status, result.state, at);
      if (extraAudit) store.appendAudit(actor, extraAudit.action, { id: row.id, ...extraAudit.details }, at);
      for (const a of result.actions) if (a.type === 'audit') store.appendAudit(actor, a.action, { id: row.id, ...a.details }, at);
    }, [...ids].sort());
    for (const a of result.actions) {
      if (a.type !== 'notify') continue;
      try {
        ctx.notifier.emit(a.event, { id: row.id, ...a.details });
      } catch (err) {
        ctx.log(`rollout ${row.id}: notify ${a.event}: ${String(err)}`);
      }
    }
  };

  const tickOne = async (row: RolloutRow, devices: readonly DeviceRow[]): Promise<void> => {
    const spec = row.spec as RolloutSpec;
    const state = row.state as RolloutState;
    const now = ctx.now().getTime();
    const due = gatesDue(spec, state, now);
    // a soak that ran out while the hub was down is judged only after the hub has listened for one soak:
    // devices buffer telemetry while it is away and deliver it when they reconnect
    if (due && now - upSince < spec.soakMs) return;
    const result = step(spec, state, observations(row, spec, state, devices, now, due));
    if (result.actions.length === 0 && JSON.stringify(result.state) === JSON.stringify(state)) return;
    await execute(row, result, ENGINE);
  };

  /** Live gated rollouts, and completed ones no newer rollout of the model and role has replaced (late joiners). */
  const tickable = (): RolloutRow[] => {
    const rows = store.listRollouts();
    return rows.filter((r) => {
      if (!r.state) return false;
      if (LIVE.has(r.status)) return true;
      if (r.status !== 'completed') return false;
      return !rows.some((n) => n.seq > r.seq && n.model === r.model && n.role === r.role && n.status !== 'aborted');
    });
  };

  const tick = () =>
    serial(async () => {
      if (closed) return;
      const rows = tickable();
      if (rows.length === 0) return;
      const devices = store.listDevices();
      for (const row of rows) {
        try {
          await tickOne(row, devices);
        } catch (err) {
          ctx.log(`rollout ${row.id}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        }
      }
    });

  const shadowView = (row: RolloutRow, state: RolloutState, now: number): ShadowView | null => {
    const spec = row.spec as RolloutSpec | null;
    if (!spec?.shadow) return null;
    const ids = Object.keys(state.devices);
    const from = state.createdAt;
    const shadow = versionHealth(windowsOf(ctx, { model: spec.model, version: spec.version, role: 'shadow', deviceIds: ids, from, to: now + 1 }));
    const active = baselineHealth(windowsOf(ctx, { model: spec.model, notVersion: spec.version, role: 'active', deviceIds: ids, from, to: now + 1 }));
    const q = (h: VersionHealth | undefined, p: number) => (h && h.latencyMs.count > 0 ? histogramQuantile(h.latencyMs, p) : null);
    const s = shadow.shadow;
    return {
      compared: s?.compared ?? 0,
      agreed: s?.agreed ?? 0,
      agreement: s && s.compared > 0 ? s.agreed / s.compared : null,
      latencyMs: { shadow: { p50: q(shadow, 0.5), p95: q(shadow, 0.95) }, active: { p50: q(active, 0.5), p95: q(active, 0.95) } },
    };
  };

  const detail = (row: RolloutRow, devices: readonly DeviceRow[], withShadow = true): RolloutDetail => {
    const base = deployments.get(row.id);
    if (!row.state || !row.spec) {
      return { ...base, plan: null, wave: -1, waves: [], gates: [], pausedReason: null, supersededBy: null, shadow: null };
    }
    const spec = row.spec as RolloutSpec;
    const state = row.state as RolloutState;
    const now = ctx.now().getTime();
    const obs = observations(row, spec, state, devices, now, false);
    const waves = state.waves.map((w): WaveView => {
      const c = waveCounts(spec, state, w, obs);
      return {
        index: w.index,
        percent: w.percent,
        outcome: w.outcome,
        startedAt: iso(w.startedAt)!,
        doneAt: iso(w.doneAt),
        gatesAt: iso(w.gatesAt),
        devices: w.deviceIds.length,
        converged: c.converged,
        counts: { pending: c.pending, converged: c.converged, failed: c.failed, skipped: c.skipped, left: c.left, total: w.deviceIds.length },
        byOutcome: c.byOutcome,
        gates: w.gates,
      };
    });
    const judged = [...state.waves].reverse().find((w) => w.gates.length > 0);
    return {
      ...base,
      role: state.role,
      plan: { waves: spec.waves, soakMs: spec.soakMs, onFail: spec.onFail, shadow: spec.shadow, deviceTimeoutMs: spec.deviceTimeoutMs, gates: spec.gates },
      wave: state.wave,
      waves,
      gates: judged?.gates ?? [],
      pausedReason: state.pausedReason,
      supersededBy: state.supersededBy,
      shadow: withShadow ? shadowView(row, state, now) : null,
    };
  };

  /** A new rollout of the same model (and role) supersedes the running one, explicitly and audited. */
  const supersedeRunning = async (model: string, role: 'active' | 'shadow', byId: string, actor: string): Promise<void> => {
    for (const r of store.listRollouts()) {
      if (r.id === byId || r.model !== model || r.role !== role || !r.state || !LIVE.has(r.status)) continue;
      const res = supersede(r.spec as RolloutSpec, r.state as RolloutState, byId, ctx.now().getTime());
      await execute(r, res, actor);
    }
  };

  const timer = setInterval(() => void tick().catch((err) => ctx.log(`rollout tick: ${String(err)}`)), tickMs);
  timer.unref();

  return {
    start: (request, actor) =>
      serial(async () => {
        const soakMs = parseDuration(request.soak, 'soak') ?? DEFAULT_SOAK_MS;
        const waves = request.waves ?? [...DEFAULT_WAVES];
        const role = request.shadow ? 'shadow' : 'active';
        // design §2: `--waves 100 --soak 0` keeps the all-at-once deployment (no engine, no gates)
        if (waves.length === 1 && waves[0] === 100 && soakMs === 0 && !request.gates) {
          const v = await deployments.start(request, actor);
          await supersedeRunning(request.model, role, v.id, actor);
          return detail(mustRow(v.id), store.listDevices());
        }
        const mv = store.getModelVersion(request.model, request.version);
        if (!mv) throw new EdgefleetError('NOT_FOUND', `model ${request.model}@${request.version} not found`);
        const floor = ctx.keys.keyring.releaseFloors[request.model];
        if (floor !== undefined && mv.release < floor) {
          throw new EdgefleetError('BELOW_RELEASE_FLOOR', `${request.model}@${request.version} (release ${mv.release}) is below the release floor ${floor}`);
        }
        const id = `r-${randomBytes(5).toString('hex')}`;
        const deviceTimeoutMs = parseDuration(request.deviceTimeout, 'deviceTimeout');
        const spec = resolveRolloutSpec({
          id,
          model: request.model,
          version: request.version,
          release: mv.release,
          waves,
          soakMs,
          ...(request.onFail ? { onFail: request.onFail } : {}),
          shadow: request.shadow ?? false,
          ...(request.gates ? { gates: request.gates as Partial<GateConfig> } : {}),
          ...(deviceTimeoutMs !== undefined ? { deviceTimeoutMs } : {}),
        });
        const now = ctx.now();
        const state = createRolloutState(spec, now.getTime());
        const options: Record<string, unknown> = { waves: spec.waves, soak: request.soak ?? spec.soakMs, onFail: spec.onFail };
        if (request.gates) options.gates = request.gates;
        if (request.deviceTimeout !== undefined) options.deviceTimeout = request.deviceTimeout;
        const targets: RolloutRow['targets'] = {};
        if (request.targets.all) targets.all = true;
        if (request.targets.tags?.length) targets.tags = request.targets.tags;
        if (request.targets.devices?.length) targets.devices = request.targets.devices;
        await deployments.commit(() => {
          store.insertRollout({ id, model: spec.model, version: spec.version, role, targets, options, status: state.status, createdAt: now.toISOString(), spec, state });
          store.appendAudit(actor, 'rollout.start', { id, ...request });
        }, []);
        await supersedeRunning(spec.model, role, id, actor);
        // the first wave goes out now, not on the next tick
        await tickOne(mustRow(id), store.listDevices());
        return detail(mustRow(id), store.listDevices());
      }),
    list: () => {
      const devices = store.listDevices();
      // the list (dashboard overview, `rollout ls`) skips the shadow comparison: one telemetry query per rollout
      return store.listRollouts().map((r) => detail(r, devices, false));
    },
    get: (id) => detail(mustRow(id), store.listDevices()),
    command: (id, command, actor, reason) =>
      serial(async () => {
        const row = mustRow(id);
        if (!row.state || !row.spec) {
          if (command === 'abort') {
            await deployments.abort(id, actor);
            return detail(mustRow(id), store.listDevices());
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
        await execute(row, res, actor, { action: `rollout.${command}`, details: { wave: state.wave, ...(reason ? { reason } : {}) } });
        if (command === 'resume' || command === 'promote') await tickOne(mustRow(id), store.listDevices());
        return detail(mustRow(id), store.listDevices());
      }),
    tick,
    async close() {
      closed = true;
      clearInterval(timer);
      await chain.catch(() => undefined);
    },
  };
}
