// Desired states (design §3, §7): per device, the models it should run follow from the rollouts whose targets
// include it (assignments.ts; the latest rollout per model and role wins). Each change is a new desired state
// with a strictly increasing sequence, signed by the director key, published retained. A rollout issued all
// at once applies to its whole target set; a gated one (rollouts/runner.ts) only to the devices its engine
// state has sent it to, in the role it sent (design §7). Every rollout, gated or not, starts through `start`.

import { randomBytes } from 'node:crypto';
import { DesiredState, EdgefleetError, Envelope, LIMITS, TelemetrySettings, topics } from '@edgefleet/protocol';
import type { HubContext } from '../context.js';
import type { DeviceRow, RolloutRow } from '../store/db.js';
import { assignmentsFor, deviceMatches } from './assignments.js';
import { loadCapturePolicies, telemetryFor, type CapturePolicies } from './capture-policies.js';
import { createDesiredOutbox } from './outbox.js';
import { rolloutTargets, type RolloutRequest } from './request.js';

const DAY_MS = 86_400_000;
/** Desired states are valid this long; the hub re-signs those past half their life (design §3 `expiresAt`). */
export const DESIRED_LIFETIME_MS = 30 * DAY_MS;

/** A rollout as the API lists it: its stored row without the engine's part, and the devices it targets. */
export type RolloutView = Omit<RolloutRow, 'seq' | 'spec' | 'state'> & { devices: number };

/** A gated rollout's engine part (rollouts/): its resolved spec and first state, and its options as listed. */
export interface GatedStart {
  spec: unknown;
  state: { status: string };
  options: Record<string, unknown>;
}

export interface DesiredStates {
  /**
   * The one way a rollout starts (design §3, §7): checks the version exists and is not below the keyring's
   * release floor, gives it an id and stores it with its audit row. Without `gated` it is issued all at once
   * (status completed, the target set's desired states re-issued now); with it, `gated` builds the engine's
   * spec and first state for that id and release, and the engine's runner sends the waves.
   */
  start(request: RolloutRequest, actor: string, gated?: (id: string, release: number, now: Date) => GatedStart): Promise<RolloutView>;
  list(): Promise<RolloutView[]>;
  get(id: string): Promise<RolloutView>;
  abort(id: string, actor: string): Promise<RolloutView>;
  /** Re-derive one device's desired state; publishes a new one only when its content changes. */
  recompute(deviceId: string): Promise<void>;
  /** Device removed: clear its retained desired state. */
  removed(deviceId: string): Promise<void>;
  /** Publish every stored desired state again (an embedded broker starts with no retained messages); the leader's. */
  republishAll(): Promise<void>;
  /**
   * Publish the stored desired states not yet published (the outbox, design §8), if this replica leads: after
   * a crash between a commit and its publish, on election, or after another replica stored some.
   */
  drain(): Promise<void>;
  /** Re-sign desired states past half their lifetime. */
  refreshExpiring(): Promise<number>;
  /**
   * Whether the device's current desired state names the artifact (what artifact/get and the multicast
   * topic may ask for, design §4). A yes is cached; a no is read again from the store, where another
   * replica may have issued the state that names it.
   */
  mayFetch(deviceId: string, sha256: string): Promise<boolean>;
  /** Resolves when every publish started so far is done. */
  idle(): Promise<void>;
  /** Stops the outbox's poll, after its current pass. */
  close(): Promise<void>;
  /**
   * Gated rollouts (design §7): in ONE transaction run `write` (the engine's new state, audit rows), then
   * sign and store a desired state for each of `deviceIds` whose assignments changed; the outbox publishes
   * them after the commit. A crash before the commit sends nothing; after it, the outbox still holds them
   * and the engine never sends them again.
   */
  commit(write: () => Promise<void>, deviceIds: readonly string[]): Promise<void>;
  /**
   * A capture policy of `model@version` set or removed (design §4 capture): in ONE transaction run `write`
   * (the policy row, its audit row), then re-issue the desired state of every device assigned that version.
   * Resolves to the number of devices whose desired state changed.
   */
  capturePolicyChanged(model: string, version: string, write: () => Promise<void>): Promise<number>;
}

/** A desired state signed and stored, for the outbox to publish after its transaction commits. */
interface Issued {
  deviceId: string;
  sequence: number;
}

export interface DesiredStatesOptions {
  /**
   * Telemetry settings put in every desired state (design §6: window length, probation); agents use their
   * defaults (60 s windows) when unset. Short windows let rollout gates judge short soaks precisely.
   */
  telemetry?: Partial<TelemetrySettings>;
  /** Whether this replica publishes the outbox (design §8: the leader; always, on SQLite). */
  leading?: () => boolean;
  /** The outbox's poll for states other replicas stored (see outbox.ts). */
  outboxPollMs?: number;
  /** Runs before each desired state is published (an external broker's ACL grants the artifacts it names first). */
  beforePublish?: (deviceId: string) => Promise<void>;
}

export function createDesiredStates(ctx: HubContext, options: DesiredStatesOptions = {}): DesiredStates {
  const { store } = ctx;
  const telemetry = options.telemetry ? TelemetrySettings.parse(options.telemetry) : undefined;
  const artifactCache = new Map<string, ReadonlySet<string>>();
  // a desired state stored, or the device changed, on any replica (store/changes.ts): read its artifacts again
  const dropArtifacts = (id: string | null) => (id === null ? artifactCache.clear() : artifactCache.delete(id));
  store.changes.subscribe('desired', dropArtifacts);
  store.changes.subscribe('device', dropArtifacts);
  let pending: Promise<unknown> = Promise.resolve();

  // per device, the highest sequence published: a lower one that comes after it (two transactions that
  // committed in one order and reached here in the other) is not published, so the retained desired state
  // is always the device's newest and a device never sees its sequences go back
  const published = new Map<string, number>();
  const publishDesired = (deviceId: string, envelope: string, sequence: number): Promise<void> => {
    const last = published.get(deviceId);
    if (last !== undefined && sequence < last) return Promise.resolve();
    if (published.size > 200_000) published.clear();
    published.set(deviceId, sequence);
    const before = options.beforePublish?.(deviceId).catch((err: unknown) => ctx.log(`before publishing desired ${deviceId}: ${String(err)}`));
    const p = (before ?? Promise.resolve()).then(() => ctx.bus.publish(topics.desired(deviceId), envelope, { qos: 1, retain: true }));
    ctx.metrics.inc('edgefleet_desired_states_sent_total');
    pending = Promise.all([pending, p.catch((err) => ctx.log(`publish desired ${deviceId}: ${String(err)}`))]);
    return p;
  };
  const outbox = createDesiredOutbox(ctx, {
    leading: () => leading(),
    publish: publishDesired,
    ...(options.outboxPollMs !== undefined ? { pollMs: options.outboxPollMs } : {}),
  });

  const view = async (r: RolloutRow, devices?: DeviceRow[]): Promise<RolloutView> => ({
    id: r.id,
    model: r.model,
    version: r.version,
    role: r.role,
    targets: r.targets,
    options: r.options,
    status: r.status,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    devices: (devices ?? (await store.listDevices())).filter((d) => deviceMatches(r.targets, d)).length,
  });

  /** Sign and store a new desired state if the assignments changed (or `force`); returns the envelope to publish. */
  const issue = async (device: DeviceRow, rollouts: RolloutRow[], policies: CapturePolicies, force: boolean): Promise<Issued | null> => {
    const assignments = assignmentsFor(device, rollouts);
    const settings = telemetryFor(telemetry, assignments, policies);
    const fingerprint = JSON.stringify(assignments.map((a) => [a.model, a.version, a.role, a.rolloutId])) + (settings ? JSON.stringify(settings) : '');
    const current = await store.getDesired(device.id);
    if (!force && (current ? current.fingerprint === fingerprint : assignments.length === 0)) return null;
    const models: DesiredState['models'] = [];
    const artifacts: string[] = [];
    for (const a of assignments) {
      const mv = await store.getModelVersion(a.model, a.version);
      if (!mv) continue; // cannot happen: rollouts are created only for pushed versions
      models.push({ manifest: Envelope.parse(JSON.parse(mv.envelope) as unknown), role: a.role, rolloutId: a.rolloutId });
      artifacts.push(mv.sha256);
    }
    const now = ctx.now();
    const desired: DesiredState = {
      kind: 'desired-state',
      deviceId: device.id,
      sequence: await store.nextDesiredSequence(device.id), // design §3: strictly increasing, persisted before publish
      issuedAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + DESIRED_LIFETIME_MS).toISOString(),
      models,
      ...(settings ? { telemetry: settings } : {}),
    };
    const envelope = JSON.stringify(ctx.keys.directorSigner.signDocument('desired-state', desired));
    if (envelope.length > LIMITS.desired) {
      throw new EdgefleetError('TOO_LARGE', `desired state for ${device.id} is ${envelope.length} bytes, over the ${LIMITS.desired}-byte cap`);
    }
    await store.putDesired({
      deviceId: device.id,
      sequence: desired.sequence,
      envelope,
      artifacts,
      fingerprint,
      issuedAt: desired.issuedAt,
      expiresAt: desired.expiresAt,
    });
    artifactCache.set(device.id, new Set(artifacts));
    ctx.metrics.inc('edgefleet_desired_states_published_total');
    return { deviceId: device.id, sequence: desired.sequence };
  };

  /**
   * Issue in transactions of BATCH devices, the outbox publishing after each commit (never a sequence that
   * was not persisted), and yield between batches so a rollout to thousands of devices does not stall the broker.
   */
  const BATCH = 250;
  const recomputeMany = async (devices: DeviceRow[], force = false): Promise<void> => {
    const rollouts = await store.listRollouts();
    for (let i = 0; i < devices.length; i += BATCH) {
      if (i > 0) await new Promise((r) => setImmediate(r));
      const out = await store.transaction(async () => {
        // read in the transaction: a policy changed meanwhile is never overwritten by a state issued from the old one
        const policies = await loadCapturePolicies(ctx, rollouts);
        const res: Issued[] = [];
        for (const d of devices.slice(i, i + BATCH)) {
          const issued = await issue(d, rollouts, policies, force);
          if (issued) res.push(issued);
        }
        return res;
      });
      if (out.length) await outbox.drain();
    }
  };

  // the leader's: a follower's copy could overtake a newer state. A follower asked (its broker lost the
  // retained states) owes it, and pays when elected.
  const leading = options.leading ?? (() => true);
  let republishOwed = false;
  const republishAll = async (): Promise<void> => {
    republishOwed = !leading();
    if (republishOwed) return;
    await outbox.exclusive(async () => {
      await Promise.all((await store.listDesired()).map((d) => publishDesired(d.deviceId, d.envelope, d.sequence)));
    });
  };

  const must = async (id: string): Promise<RolloutRow> => {
    const r = await store.getRollout(id);
    if (!r) throw new EdgefleetError('NOT_FOUND', `rollout ${id} not found`);
    return r;
  };

  /** In one transaction: `write`, then a desired state for each of `deviceIds` whose content changed; published after the commit. */
  const commit = async (write: () => Promise<void>, deviceIds: readonly string[]): Promise<number> => {
    const out = await store.transaction(async () => {
      await write();
      const res: Issued[] = [];
      if (deviceIds.length === 0) return res;
      const rollouts = await store.listRollouts();
      const policies = await loadCapturePolicies(ctx, rollouts);
      for (const d of await store.devicesByIds(deviceIds)) {
        const issued = await issue(d, rollouts, policies, false);
        if (issued) res.push(issued);
      }
      return res;
    });
    if (out.length) await outbox.drain();
    return out.length;
  };

  return {
    async start(request, actor, gated) {
      const mv = await store.getModelVersion(request.model, request.version);
      if (!mv) throw new EdgefleetError('NOT_FOUND', `model ${request.model}@${request.version} not found`);
      // design §3: a manifest below the keyring's release floor can never be installed
      const floor = ctx.keys.keyring.releaseFloors[request.model];
      if (floor !== undefined && mv.release < floor) {
        throw new EdgefleetError('BELOW_RELEASE_FLOOR', `${request.model}@${request.version} (release ${mv.release}) is below the release floor ${floor}`);
      }
      const id = `r-${randomBytes(5).toString('hex')}`;
      const now = ctx.now();
      const engine = gated?.(id, mv.release, now);
      const options: Record<string, unknown> = {};
      if (request.waves) options.waves = request.waves;
      if (request.soak !== undefined) options.soak = request.soak;
      if (request.onFail) options.onFail = request.onFail;
      const targets = rolloutTargets(request);
      await store.transaction(async () => {
        await store.insertRollout({
          id,
          model: request.model,
          version: request.version,
          role: request.shadow ? 'shadow' : 'active',
          targets,
          // design §4 capture: the rollout's own capture policy, for the devices it assigns
          options: { ...(engine ? engine.options : options), ...(request.capture ? { capture: request.capture } : {}) },
          // all at once: the whole target set gets it now; gated: only what the engine sends
          status: engine ? engine.state.status : 'completed',
          createdAt: now.toISOString(),
          ...(engine ? { spec: engine.spec, state: engine.state } : {}),
        });
        await store.appendAudit(actor, 'rollout.start', { id, ...request });
      });
      if (engine) return view(await must(id));
      const devices = (await store.listDevices()).filter((d) => deviceMatches(targets, d));
      await recomputeMany(devices);
      return view(await must(id));
    },
    async list() {
      const devices = await store.listDevices();
      return Promise.all((await store.listRollouts()).map((r) => view(r, devices)));
    },
    get: async (id) => view(await must(id)),
    async abort(id, actor) {
      const r = await must(id);
      if (r.status === 'aborted') return view(r);
      await store.transaction(async () => {
        await store.setRolloutStatus(id, 'aborted', ctx.now().toISOString());
        await store.appendAudit(actor, 'rollout.abort', { id });
      });
      const devices = (await store.listDevices()).filter((d) => deviceMatches(r.targets, d));
      await recomputeMany(devices);
      return view(await must(id));
    },
    async recompute(deviceId) {
      const d = await store.getDevice(deviceId);
      if (d) await recomputeMany([d]);
    },
    async removed(deviceId) {
      artifactCache.delete(deviceId);
      published.delete(deviceId);
      // an empty retained payload clears the retained message (MQTT 3.1.1 §3.3.1.3): the removed
      // device's desired state, and what it left retained on its reported and status topics
      await Promise.all(
        [topics.desired(deviceId), topics.reported(deviceId), topics.status(deviceId)].map((t) =>
          ctx.bus.publish(t, '', { qos: 1, retain: true }).catch(() => undefined),
        ),
      );
    },
    republishAll,
    drain: async () => {
      if (republishOwed) await republishAll();
      await outbox.drain();
    },
    async refreshExpiring() {
      const cutoff = ctx.now().getTime() + DESIRED_LIFETIME_MS / 2;
      const stale = new Set((await store.listDesired()).filter((d) => new Date(d.expiresAt).getTime() < cutoff).map((d) => d.deviceId));
      const devices = (await store.listDevices()).filter((d) => stale.has(d.id));
      await recomputeMany(devices, true);
      return devices.length;
    },
    async mayFetch(deviceId, sha256) {
      if (artifactCache.get(deviceId)?.has(sha256)) return true;
      const set = new Set((await store.getDesired(deviceId))?.artifacts ?? []);
      if (artifactCache.size > 200_000) artifactCache.clear();
      artifactCache.set(deviceId, set);
      return set.has(sha256);
    },
    async idle() {
      await outbox.exclusive(async () => undefined);
      await pending;
    },
    close: () => outbox.close(),
    async commit(write, deviceIds) {
      await commit(write, deviceIds);
    },
    async capturePolicyChanged(model, version, write) {
      const rollouts = (await store.listRollouts()).filter((r) => r.model === model);
      const assigned = (await store.listDevices()).filter((d) => assignmentsFor(d, rollouts).some((a) => a.version === version)).map((d) => d.id);
      return commit(write, assigned);
    },
  };
}

