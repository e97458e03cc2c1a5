// The hub's store (design §7): every statement the hub runs, behind async methods, on one SqlDatabase — the
// SQLite file (the zero-configuration default) or PostgreSQL (`--db postgres://…`, several replicas). Callers
// never write SQL. `store.transaction(fn)` runs fn in one transaction; store methods called inside it (in its
// async context) are part of it.

import { createHash } from 'node:crypto';
import { EdgefleetError } from '@edgefleet/protocol';
import type { SqlDatabase, SqlRunner } from './sql.js';
import { openSqlite } from './sqlite.js';
import { openPostgres } from './postgres.js';
import { createAuditStore } from './audit.js';
import { createDeliveryRecords } from './deliveries.js';
import { createDeviceQuery } from './device-query.js';
import { createEnrolmentSql } from './enrolment.js';
import { createEventSql, type RecentEvent } from './events.js';
import { createFleetSql } from './fleet.js';
import { createTelemetrySql } from './telemetry.js';
import { createCaptureSql } from './captures.js';
import { createCapturePolicySql } from './capture-policies.js';
import { createWebhookStore } from './webhooks.js';
import { createSecretSql } from './secrets.js';
import { CHANGE_TOPICS, createChanges } from './changes.js';
import { deviceFromRow, desiredFromRow, rolloutFromRow, type AuditRow, type DesiredRow, type DeviceRow, type ModelVersionRow, type RawDesired, type RawDevice, type RawRollout, type Role, type RolloutRow, type TokenRow } from './rows.js';

export type { AuditRow, DesiredRow, DeviceRow, ModelVersionRow, Role, RolloutRow, RolloutTargets, TokenRow } from './rows.js';

const AUDIT_GENESIS = '0'.repeat(64);

export function auditHash(prevHash: string, at: string, actor: string, action: string, details: string): string {
  return createHash('sha256').update(JSON.stringify([prevHash, at, actor, action, details])).digest('hex');
}

const MODEL_COLUMNS = 'model, version, release, sha256, size, manifest, envelope, created_at AS "createdAt"';

/** Advisory keys of the chains that are appended one at a time across replicas (PostgreSQL). */
export const CHAIN_LOCK = { audit: 0x6564_6765_0010, rolloutSeq: 0x6564_6765_0011, modelRelease: 0x6564_6765_0012 } as const;

/**
 * Holds `key` until the current transaction ends. SQLite needs nothing: its transactions run one at a time.
 * PostgreSQL: a transaction-scoped advisory lock, so two replicas cannot read the same chain head.
 */
export async function serializeOn(tx: SqlRunner, key: number): Promise<void> {
  if (tx.dialect.name === 'postgres') await tx.get('SELECT pg_advisory_xact_lock(@key) AS locked', { key });
}


export type Store = ReturnType<typeof createStore>;

/**
 * Opens the hub's database: `postgres://…` (or `postgresql://…`) on PostgreSQL, `sqlite:PATH` or a plain
 * path on SQLite. Pending migrations are applied either way.
 */
export async function openStore(target: string): Promise<Store> {
  if (/^postgres(ql)?:\/\//.test(target)) return createStore(await openPostgres(target));
  return createStore(openSqlite(target.replace(/^sqlite:/, '')));
}

/**
 * `--db` as given: a postgres:// or postgresql:// URL (with `password` put in when the URL has none), a
 * `sqlite:` path or a bare path. Anything else with a scheme is refused (BAD_INPUT) before anything opens.
 */
export function checkDbTarget(target: string, password?: string): string {
  if (target.trim() === '') throw new EdgefleetError('BAD_INPUT', '--db must name a database: postgres://… or a SQLite file path');
  if (/^postgres(ql)?:\/\//i.test(target)) {
    let u: URL;
    try {
      u = new URL(target);
    } catch {
      throw new EdgefleetError('BAD_INPUT', `--db: not a URL: ${JSON.stringify(target.replace(/:[^:@/]*@/, ':***@'))}`);
    }
    if (!u.hostname) throw new EdgefleetError('BAD_INPUT', '--db: a postgres:// URL needs a host');
    if (password && !u.password) u.password = encodeURIComponent(password);
    return u.toString();
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
    throw new EdgefleetError('BAD_INPUT', `--db: ${target.split(':')[0]}:// is not a database the hub runs on (postgres:// or a SQLite file)`);
  }
  return target;
}

/** Where `--db` points, for logs: the engine and the place, without a password. */
export function describeDb(target: string): string {
  if (!/^postgres(ql)?:\/\//.test(target)) return `sqlite ${target.replace(/^sqlite:/, '')}`;
  const u = new URL(target);
  return `postgres ${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`;
}

export function createStore(sql: SqlDatabase) {
  const changes = createChanges(sql);
  const toModel = (r: ModelVersionRow | undefined): ModelVersionRow | undefined => r;
  const changed = async (p: Promise<number>) => (await p) > 0;

  const appendAudit = (actor: string, action: string, details: unknown, at = new Date().toISOString()): Promise<void> =>
    sql.transaction(async (tx) => {
      await serializeOn(tx, CHAIN_LOCK.audit);
      const prev = (await tx.get<{ hash: string }>('SELECT hash FROM audit ORDER BY id DESC LIMIT 1'))?.hash ?? AUDIT_GENESIS;
      const body = JSON.stringify(details ?? {});
      await tx.run('INSERT INTO audit (at, actor, action, details, prev_hash, hash) VALUES (@at, @actor, @action, @details, @prev, @hash)', {
        at,
        actor,
        action,
        details: body,
        prev,
        hash: auditHash(prev, at, actor, action, body),
      });
    });

  const ensureSequences = (deviceId: string) =>
    sql.run('INSERT INTO device_sequences (device_id) VALUES (@deviceId) ON CONFLICT DO NOTHING', { deviceId });

  return {
    /** Which engine: 'sqlite' or 'postgres' (what a few callers log or size by). */
    engine: sql.dialect.name,
    close: (): Promise<void> => sql.close(),
    /** Runs `fn` in one transaction; store calls inside it join it. Commits when it resolves. */
    transaction: <T>(fn: () => Promise<T>): Promise<T> => sql.transaction(() => fn()),
    /** Change notices to every replica (changes.ts): `publish(topic, key)` (on commit), `subscribe(topic, fn)`. */
    changes,
    /** Inside a transaction: wait until no other (on any replica) appends to this chain, until it ends. */
    serialize: (chain: keyof typeof CHAIN_LOCK): Promise<void> => sql.transaction((tx) => serializeOn(tx, CHAIN_LOCK[chain])),

    // ---- domains (one file each) ----
    telemetry: createTelemetrySql(sql),
    captures: createCaptureSql(sql),
    capturePolicies: createCapturePolicySql(sql),
    events: createEventSql(sql),
    fleet: createFleetSql(sql),
    enrolment: createEnrolmentSql(sql, changes),
    webhooks: createWebhookStore(sql, changes),
    deliveries: createDeliveryRecords(sql),
    audit: createAuditStore(sql),
    queryDevices: createDeviceQuery(sql),
    secrets: createSecretSql(sql),

    // ---- devices ----
    async getDevice(id: string): Promise<DeviceRow | undefined> {
      const r = await sql.get<RawDevice>('SELECT * FROM devices WHERE id = @id', { id });
      return r ? deviceFromRow(r) : undefined;
    },
    listDevices: async (): Promise<DeviceRow[]> => (await sql.all<RawDevice>('SELECT * FROM devices ORDER BY id')).map(deviceFromRow),
    /** Devices by id (the ones that exist), in id order. */
    async devicesByIds(ids: readonly string[]): Promise<DeviceRow[]> {
      if (ids.length === 0) return [];
      const rows = await sql.all<RawDevice>(`SELECT * FROM devices WHERE ${sql.dialect.inJsonArray('id', 'ids')} ORDER BY id`, { ids: JSON.stringify(ids) });
      return rows.map(deviceFromRow);
    },
    /** Registered devices per last known status (the `edgefleet_devices` gauge). */
    deviceStatusCounts: (): Promise<{ status: string; n: number }[]> => sql.all('SELECT status, COUNT(*) AS n FROM devices GROUP BY status'),
    brokerHashes: async () =>
      (await sql.all<{ id: string; broker_hash: string }>('SELECT id, broker_hash FROM devices WHERE broker_hash IS NOT NULL ORDER BY id')).map((r) => ({
        id: r.id,
        hash: r.broker_hash,
      })),
    insertDevice: (d: { id: string; tags: Record<string, string>; tokenHash: string; brokerHash: string | null; createdAt: string }) =>
      sql.transaction(async () => {
        await sql.run('INSERT INTO devices (id, tags, token_hash, broker_hash, created_at) VALUES (@id, @tags, @tokenHash, @brokerHash, @createdAt)', {
          id: d.id,
          tags: JSON.stringify(d.tags),
          tokenHash: d.tokenHash,
          brokerHash: d.brokerHash,
          createdAt: d.createdAt,
        });
        await ensureSequences(d.id);
        await changes.publish(CHANGE_TOPICS.device, d.id);
      }),
    setDeviceTags: (id: string, tags: Record<string, string>) => changed(sql.run('UPDATE devices SET tags = @tags WHERE id = @id', { tags: JSON.stringify(tags), id })),
    deleteDevice: (id: string): Promise<boolean> =>
      sql.transaction(async () => {
        await sql.run('DELETE FROM desired_states WHERE device_id = @id', { id });
        // a device added again under this id starts a fresh telemetry sequence (it has new credentials)
        await sql.run('DELETE FROM telemetry_batches WHERE device_id = @id', { id });
        await sql.run('DELETE FROM telemetry_seq_floor WHERE device_id = @id', { id });
        await sql.run('DELETE FROM artifact_fetches WHERE device_id = @id', { id });
        const removed = (await sql.run('DELETE FROM devices WHERE id = @id', { id })) > 0;
        // every replica forgets the device and drops its connections (its credentials are revoked)
        if (removed) for (const topic of [CHANGE_TOPICS.device, CHANGE_TOPICS.deviceRevoked]) await changes.publish(topic, id);
        return removed;
      }),
    setDeviceStatus: (id: string, status: 'online' | 'offline', at: string) =>
      changed(sql.run('UPDATE devices SET status = @status, status_at = @at, last_seen = @at WHERE id = @id', { status, at, id })),
    setDeviceSeen: (id: string, at: string) => sql.run('UPDATE devices SET last_seen = @at WHERE id = @id', { at, id }),
    setDeviceReported: (id: string, reported: unknown, at: string) =>
      changed(sql.run('UPDATE devices SET reported = @reported, reported_at = @at, last_seen = @at WHERE id = @id', { reported: JSON.stringify(reported), at, id })),
    /**
     * The device's stored report (parsed), read for an update in this transaction: on PostgreSQL the row is
     * locked until it ends, so two replicas cannot both find their report the newer one.
     */
    async lockReported(id: string): Promise<unknown> {
      const r = await sql.get<{ reported: string | null }>(`SELECT reported FROM devices WHERE id = @id${sql.dialect.name === 'postgres' ? ' FOR UPDATE' : ''}`, { id });
      return r?.reported == null ? null : (JSON.parse(r.reported) as unknown);
    },
    /** Last-seen times of many devices in one statement (device id → ISO time). */
    setDevicesSeen: async (seen: ReadonlyMap<string, string>): Promise<void> => {
      if (seen.size === 0) return;
      await sql.run(`UPDATE devices SET last_seen = s.value FROM ${sql.dialect.jsonEach('@seen', [], 's')} WHERE devices.id = s.key`, {
        seen: JSON.stringify(Object.fromEntries(seen)),
      });
    },
    markAllOffline: (at: string) => sql.run("UPDATE devices SET status = 'offline', status_at = @at WHERE status = 'online'", { at }),

    // ---- sequences and desired states ----
    nextDesiredSequence: (deviceId: string): Promise<number> =>
      sql.transaction(async () => {
        await ensureSequences(deviceId);
        return (await sql.get<{ desired: number }>('UPDATE device_sequences SET desired = desired + 1 WHERE device_id = @deviceId RETURNING desired', { deviceId }))!.desired;
      }),
    nextCommandSequence: (deviceId: string): Promise<number> =>
      sql.transaction(async () => {
        await ensureSequences(deviceId);
        return (await sql.get<{ command: number }>('UPDATE device_sequences SET command = command + 1 WHERE device_id = @deviceId RETURNING command', { deviceId }))!.command;
      }),
    async getDesired(deviceId: string): Promise<DesiredRow | undefined> {
      const r = await sql.get<RawDesired>('SELECT * FROM desired_states WHERE device_id = @deviceId', { deviceId });
      return r ? desiredFromRow(r) : undefined;
    },
    listDesired: async (): Promise<DesiredRow[]> => (await sql.all<RawDesired>('SELECT * FROM desired_states ORDER BY device_id')).map(desiredFromRow),
    putDesired: async (d: Omit<DesiredRow, 'published'>): Promise<number> => {
      const n = await sql.run(
        `INSERT INTO desired_states (device_id, sequence, envelope, artifacts, fingerprint, issued_at, expires_at)
         VALUES (@deviceId, @sequence, @envelope, @artifacts, @fingerprint, @issuedAt, @expiresAt)
         ON CONFLICT (device_id) DO UPDATE SET sequence = excluded.sequence, envelope = excluded.envelope,
           artifacts = excluded.artifacts, fingerprint = excluded.fingerprint, issued_at = excluded.issued_at,
           expires_at = excluded.expires_at`,
        { ...d, artifacts: JSON.stringify(d.artifacts) },
      );
      await changes.publish(CHANGE_TOPICS.desired, d.deviceId);
      return n;
    },

    // the outbox (design §8): stored states not yet published, a bounded batch; and what was published
    unpublishedDesired: async (limit: number): Promise<DesiredRow[]> =>
      (await sql.all<RawDesired>('SELECT * FROM desired_states WHERE published < sequence ORDER BY device_id LIMIT @limit', { limit })).map(desiredFromRow),
    /**
     * Records each device's published sequence (never lowers it); returns the devices whose record was already
     * past the sequence given: another replica published a newer state meanwhile, which this publish may have
     * overwritten on the broker.
     */
    markDesiredPublished: (sent: ReadonlyArray<{ deviceId: string; sequence: number }>): Promise<string[]> =>
      sql.transaction(async () => {
        const overtaken: string[] = [];
        for (const { deviceId, sequence } of sent) {
          const n = await sql.run('UPDATE desired_states SET published = @sequence WHERE device_id = @deviceId AND published < @sequence', { deviceId, sequence });
          if (n === 0 && (await sql.get('SELECT 1 AS x FROM desired_states WHERE device_id = @deviceId AND published > @sequence', { deviceId, sequence }))) overtaken.push(deviceId);
        }
        return overtaken;
      }),

    // ---- models ----
    getModelVersion: async (model: string, version: string) =>
      toModel(await sql.get<ModelVersionRow>(`SELECT ${MODEL_COLUMNS} FROM model_versions WHERE model = @model AND version = @version`, { model, version })),
    listModelVersions: (model: string) => sql.all<ModelVersionRow>(`SELECT ${MODEL_COLUMNS} FROM model_versions WHERE model = @model ORDER BY release`, { model }),
    listAllModelVersions: () => sql.all<ModelVersionRow>(`SELECT ${MODEL_COLUMNS} FROM model_versions ORDER BY model, release`),
    modelVersionBySha: async (sha: string) => toModel(await sql.get<ModelVersionRow>(`SELECT ${MODEL_COLUMNS} FROM model_versions WHERE sha256 = @sha LIMIT 1`, { sha })),
    maxRelease: async (model: string): Promise<number> => (await sql.get<{ r: number | null }>('SELECT MAX(release) AS r FROM model_versions WHERE model = @model', { model }))?.r ?? 0,
    insertModelVersion: async (m: ModelVersionRow): Promise<number> => {
      const n = await sql.run(
        `INSERT INTO model_versions (model, version, release, sha256, size, manifest, envelope, created_at)
         VALUES (@model, @version, @release, @sha256, @size, @manifest, @envelope, @createdAt)`,
        { ...m },
      );
      await changes.publish(CHANGE_TOPICS.model, `${m.model}@${m.version}`);
      return n;
    },

    // ---- rollouts ----
    insertRollout: (r: Omit<RolloutRow, 'seq' | 'updatedAt' | 'spec' | 'state'> & { spec?: unknown; state?: unknown }) =>
      sql.transaction(async (tx) => {
        await serializeOn(tx, CHAIN_LOCK.rolloutSeq);
        return tx.run(
          `INSERT INTO rollouts (id, seq, model, version, role, targets, options, status, created_at, updated_at, spec, state)
           VALUES (@id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM rollouts), @model, @version, @role, @targets, @options, @status, @createdAt, @createdAt, @spec, @state)`,
          {
            id: r.id,
            model: r.model,
            version: r.version,
            role: r.role,
            status: r.status,
            createdAt: r.createdAt,
            targets: JSON.stringify(r.targets),
            options: JSON.stringify(r.options),
            spec: r.spec == null ? null : JSON.stringify(r.spec),
            state: r.state == null ? null : JSON.stringify(r.state),
          },
        );
      }),
    async getRollout(id: string): Promise<RolloutRow | undefined> {
      const r = await sql.get<RawRollout>('SELECT * FROM rollouts WHERE id = @id', { id });
      return r ? rolloutFromRow(r) : undefined;
    },
    /** The rollout row locked until the current transaction ends (PostgreSQL; SQLite's transactions are one at a time). */
    async lockRollout(id: string): Promise<RolloutRow | undefined> {
      const r = await sql.get<RawRollout>(`SELECT * FROM rollouts WHERE id = @id${sql.dialect.name === 'postgres' ? ' FOR UPDATE' : ''}`, { id });
      return r ? rolloutFromRow(r) : undefined;
    },
    listRollouts: async () => (await sql.all<RawRollout>('SELECT * FROM rollouts ORDER BY seq')).map(rolloutFromRow),
    setRolloutStatus: (id: string, status: string, at: string) => changed(sql.run('UPDATE rollouts SET status = @status, updated_at = @at WHERE id = @id', { status, at, id })),
    /**
     * The gated engine's new state, only if the stored state is still `prev` (what the caller read): false when
     * another replica wrote it meanwhile. The compare is of the stored text, written by this same JSON.stringify.
     */
    setRolloutStateIf: (id: string, status: string, state: unknown, at: string, prev: unknown) =>
      changed(
        sql.run('UPDATE rollouts SET status = @status, state = @state, updated_at = @at WHERE id = @id AND state = @prev', {
          status,
          state: JSON.stringify(state),
          at,
          id,
          prev: JSON.stringify(prev),
        }),
      ),
    /** The gated engine's new state (and its status, mirrored in the column for queries). */
    setRolloutState: (id: string, status: string, state: unknown, at: string) =>
      changed(sql.run('UPDATE rollouts SET status = @status, state = @state, updated_at = @at WHERE id = @id', { status, state: JSON.stringify(state), at, id })),

    /**
     * Frozen wave results (design §7): stored once, when the wave ends; a second write of the same wave (a replayed
     * step) changes nothing. `result` is the engine's WaveResult, kept as JSON.
     */
    insertWaveResults: async (rolloutId: string, results: ReadonlyArray<{ wave: number; endedAt: string; result: unknown }>): Promise<number> =>
      results.length === 0
        ? 0
        : sql.insertRows('rollout_wave_results', ['rollout_id', 'wave', 'ended_at', 'result'], results.map((r) => [rolloutId, r.wave, r.endedAt, JSON.stringify(r.result)]), { ignoreConflicts: true }),
    waveResults: async (rolloutId: string): Promise<unknown[]> =>
      (await sql.all<{ result: string }>('SELECT result FROM rollout_wave_results WHERE rollout_id = @rolloutId ORDER BY wave', { rolloutId })).map((r) => JSON.parse(r.result) as unknown),

    // ---- tokens ----
    async tokenByHash(hash: string): Promise<TokenRow | undefined> {
      const r = await sql.get<{ id: string; hash: string; role: string; name: string | null; created_at: string }>('SELECT * FROM tokens WHERE hash = @hash', { hash });
      return r ? { id: r.id, hash: r.hash, role: r.role as Role, name: r.name, createdAt: r.created_at } : undefined;
    },
    insertToken: (t: TokenRow) =>
      sql.run('INSERT INTO tokens (id, hash, role, name, created_at) VALUES (@id, @hash, @role, @name, @createdAt)', { id: t.id, hash: t.hash, role: t.role, name: t.name, createdAt: t.createdAt }),
    tokenCount: async () => (await sql.get<{ n: number }>('SELECT COUNT(*) AS n FROM tokens'))!.n,

    // ---- audit (append-only, hash-chained; design §7; one chain across replicas) ----
    appendAudit,
    listAudit: async (): Promise<AuditRow[]> =>
      (await sql.all<{ id: number; at: string; actor: string; action: string; details: string; prev_hash: string; hash: string }>('SELECT * FROM audit ORDER BY id')).map((r) => ({
        id: r.id,
        at: r.at,
        actor: r.actor,
        action: r.action,
        details: r.details,
        prevHash: r.prev_hash,
        hash: r.hash,
      })),

    // ---- events ----
    insertEvent: (e: { deviceId: string; type: string; model: string | null; version: string | null; code: string | null; message: string; at: string; receivedAt: number }) =>
      sql.run(
        `INSERT INTO events (device_id, type, model, version, code, message, at, received_at)
         VALUES (@deviceId, @type, @model, @version, @code, @message, @at, @receivedAt)`,
        { ...e },
      ),
    eventsForDevice: (deviceId: string, limit = 50) =>
      sql.all<RecentEvent>(
        'SELECT id, device_id AS "deviceId", type, model, version, code, message, at FROM events WHERE device_id = @deviceId ORDER BY id DESC LIMIT @limit',
        { deviceId, limit },
      ),
  };
}
