// The hub's SQLite store (design §7): better-sqlite3 in WAL mode, migrations, prepared statements.
// Every write the hub makes goes through one of these methods; callers never write SQL.

import type Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { openSqliteFile } from './sqlite.js';

export type Db = Database.Database;

export interface DeviceRow {
  id: string;
  tags: Record<string, string>;
  tokenHash: string;
  createdAt: string;
  status: 'online' | 'offline';
  statusAt: string | null;
  lastSeen: string | null;
  reported: unknown;
  reportedAt: string | null;
}

export interface ModelVersionRow {
  model: string;
  version: string;
  release: number;
  sha256: string;
  size: number;
  manifest: string;
  envelope: string;
  createdAt: string;
}

export interface RolloutRow {
  id: string;
  seq: number;
  model: string;
  version: string;
  role: 'active' | 'shadow';
  targets: RolloutTargets;
  options: Record<string, unknown>;
  status: string;
  createdAt: string;
  updatedAt: string;
  /** Gated rollouts (design §7): the engine's resolved spec and persisted state; null when issued all at once. */
  spec: unknown;
  state: unknown;
}

export interface RolloutTargets {
  all?: boolean;
  tags?: Record<string, string>[];
  devices?: string[];
}

export interface DesiredRow {
  deviceId: string;
  sequence: number;
  envelope: string;
  artifacts: string[];
  fingerprint: string;
  issuedAt: string;
  expiresAt: string;
}

export interface TokenRow {
  id: string;
  hash: string;
  role: Role;
  name: string | null;
  createdAt: string;
}

export type Role = 'viewer' | 'operator' | 'admin';

export interface AuditRow {
  id: number;
  at: string;
  actor: string;
  action: string;
  details: string;
  prevHash: string;
  hash: string;
}

interface RawDevice {
  id: string;
  tags: string;
  token_hash: string;
  created_at: string;
  status: string;
  status_at: string | null;
  last_seen: string | null;
  reported: string | null;
  reported_at: string | null;
}

function deviceFromRow(r: RawDevice): DeviceRow {
  return {
    id: r.id,
    tags: JSON.parse(r.tags) as Record<string, string>,
    tokenHash: r.token_hash,
    createdAt: r.created_at,
    status: r.status === 'online' ? 'online' : 'offline',
    statusAt: r.status_at,
    lastSeen: r.last_seen,
    reported: r.reported === null ? null : (JSON.parse(r.reported) as unknown),
    reportedAt: r.reported_at,
  };
}

interface RawRollout {
  id: string;
  seq: number;
  model: string;
  version: string;
  role: string;
  targets: string;
  options: string;
  status: string;
  created_at: string;
  updated_at: string;
  spec: string | null;
  state: string | null;
}

function rolloutFromRow(r: RawRollout): RolloutRow {
  return {
    id: r.id,
    seq: r.seq,
    model: r.model,
    version: r.version,
    role: r.role === 'shadow' ? 'shadow' : 'active',
    targets: JSON.parse(r.targets) as RolloutTargets,
    options: JSON.parse(r.options) as Record<string, unknown>,
    status: r.status,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    spec: r.spec === null ? null : (JSON.parse(r.spec) as unknown),
    state: r.state === null ? null : (JSON.parse(r.state) as unknown),
  };
}

const AUDIT_GENESIS = '0'.repeat(64);

export function auditHash(prevHash: string, at: string, actor: string, action: string, details: string): string {
  return createHash('sha256').update(JSON.stringify([prevHash, at, actor, action, details])).digest('hex');
}

interface RawDesired {
  device_id: string;
  sequence: number;
  envelope: string;
  artifacts: string;
  fingerprint: string;
  issued_at: string;
  expires_at: string;
}

const desiredFromRow = (r: RawDesired): DesiredRow => ({
  deviceId: r.device_id,
  sequence: r.sequence,
  envelope: r.envelope,
  artifacts: JSON.parse(r.artifacts) as string[],
  fingerprint: r.fingerprint,
  issuedAt: r.issued_at,
  expiresAt: r.expires_at,
});

export type Store = ReturnType<typeof openStore>;

/** Open (or create) the database file, apply pending migrations, prepare the statements. */
export function openStore(file: string) {
  const db = openSqliteFile(file);

  const s = {
    deviceGet: db.prepare<[string], RawDevice>('SELECT * FROM devices WHERE id = ?'),
    deviceList: db.prepare<[], RawDevice>('SELECT * FROM devices ORDER BY id'),
    deviceStatusCounts: db.prepare<[], { status: string; n: number }>('SELECT status, COUNT(*) AS n FROM devices GROUP BY status'),
    brokerHashes: db.prepare<[], { id: string; broker_hash: string }>(
      'SELECT id, broker_hash FROM devices WHERE broker_hash IS NOT NULL ORDER BY id',
    ),
    deviceInsert: db.prepare(
      'INSERT INTO devices (id, tags, token_hash, broker_hash, created_at) VALUES (@id, @tags, @tokenHash, @brokerHash, @createdAt)',
    ),
    deviceTags: db.prepare('UPDATE devices SET tags = ? WHERE id = ?'),
    deviceDelete: db.prepare('DELETE FROM devices WHERE id = ?'),
    deviceStatus: db.prepare('UPDATE devices SET status = ?, status_at = ?, last_seen = ? WHERE id = ?'),
    deviceSeen: db.prepare('UPDATE devices SET last_seen = ? WHERE id = ?'),
    deviceReported: db.prepare('UPDATE devices SET reported = ?, reported_at = ?, last_seen = ? WHERE id = ?'),
    allOffline: db.prepare("UPDATE devices SET status = 'offline', status_at = ? WHERE status = 'online'"),
    seqEnsure: db.prepare('INSERT OR IGNORE INTO device_sequences (device_id) VALUES (?)'),
    seqNextDesired: db.prepare<[string], { desired: number }>(
      'UPDATE device_sequences SET desired = desired + 1 WHERE device_id = ? RETURNING desired',
    ),
    seqNextCommand: db.prepare<[string], { command: number }>(
      'UPDATE device_sequences SET command = command + 1 WHERE device_id = ? RETURNING command',
    ),
    desiredGet: db.prepare<[string], RawDesired>(
      'SELECT * FROM desired_states WHERE device_id = ?',
    ),
    desiredAll: db.prepare<[], RawDesired>(
      'SELECT * FROM desired_states ORDER BY device_id',
    ),
    desiredUpsert: db.prepare(
      `INSERT INTO desired_states (device_id, sequence, envelope, artifacts, fingerprint, issued_at, expires_at)
       VALUES (@deviceId, @sequence, @envelope, @artifacts, @fingerprint, @issuedAt, @expiresAt)
       ON CONFLICT (device_id) DO UPDATE SET sequence = excluded.sequence, envelope = excluded.envelope,
         artifacts = excluded.artifacts, fingerprint = excluded.fingerprint, issued_at = excluded.issued_at,
         expires_at = excluded.expires_at`,
    ),
    desiredDelete: db.prepare('DELETE FROM desired_states WHERE device_id = ?'),
    telemetryDedupDelete: db.prepare('DELETE FROM telemetry_batches WHERE device_id = ?'),
    telemetryFloorDelete: db.prepare('DELETE FROM telemetry_seq_floor WHERE device_id = ?'),
    fetchesDelete: db.prepare('DELETE FROM artifact_fetches WHERE device_id = ?'),
    modelGet: db.prepare<[string, string], Record<string, unknown>>(
      'SELECT model, version, release, sha256, size, manifest, envelope, created_at AS createdAt FROM model_versions WHERE model = ? AND version = ?',
    ),
    modelVersions: db.prepare<[string], Record<string, unknown>>(
      'SELECT model, version, release, sha256, size, manifest, envelope, created_at AS createdAt FROM model_versions WHERE model = ? ORDER BY release',
    ),
    modelAll: db.prepare<[], Record<string, unknown>>(
      'SELECT model, version, release, sha256, size, manifest, envelope, created_at AS createdAt FROM model_versions ORDER BY model, release',
    ),
    modelBySha: db.prepare<[string], Record<string, unknown>>(
      'SELECT model, version, release, sha256, size, manifest, envelope, created_at AS createdAt FROM model_versions WHERE sha256 = ? LIMIT 1',
    ),
    modelMaxRelease: db.prepare<[string], { r: number | null }>('SELECT MAX(release) AS r FROM model_versions WHERE model = ?'),
    modelInsert: db.prepare(
      `INSERT INTO model_versions (model, version, release, sha256, size, manifest, envelope, created_at)
       VALUES (@model, @version, @release, @sha256, @size, @manifest, @envelope, @createdAt)`,
    ),
    rolloutInsert: db.prepare(
      `INSERT INTO rollouts (id, seq, model, version, role, targets, options, status, created_at, updated_at, spec, state)
       VALUES (@id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM rollouts), @model, @version, @role, @targets, @options, @status, @createdAt, @createdAt, @spec, @state)`,
    ),
    rolloutGet: db.prepare<[string], RawRollout>('SELECT * FROM rollouts WHERE id = ?'),
    rolloutAll: db.prepare<[], RawRollout>('SELECT * FROM rollouts ORDER BY seq'),
    rolloutStatus: db.prepare('UPDATE rollouts SET status = ?, updated_at = ? WHERE id = ?'),
    rolloutState: db.prepare('UPDATE rollouts SET status = ?, state = ?, updated_at = ? WHERE id = ?'),
    tokenByHash: db.prepare<[string], { id: string; hash: string; role: string; name: string | null; created_at: string }>(
      'SELECT * FROM tokens WHERE hash = ?',
    ),
    tokenInsert: db.prepare('INSERT INTO tokens (id, hash, role, name, created_at) VALUES (?, ?, ?, ?, ?)'),
    tokenCount: db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM tokens'),
    auditLast: db.prepare<[], { hash: string }>('SELECT hash FROM audit ORDER BY id DESC LIMIT 1'),
    auditInsert: db.prepare(
      'INSERT INTO audit (at, actor, action, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    auditAll: db.prepare<[], { id: number; at: string; actor: string; action: string; details: string; prev_hash: string; hash: string }>(
      'SELECT * FROM audit ORDER BY id',
    ),
    eventInsert: db.prepare(
      `INSERT INTO events (device_id, type, model, version, code, message, at, received_at)
       VALUES (@deviceId, @type, @model, @version, @code, @message, @at, @receivedAt)`,
    ),
    eventsForDevice: db.prepare<[string, number], Record<string, unknown>>(
      'SELECT id, device_id AS deviceId, type, model, version, code, message, at FROM events WHERE device_id = ? ORDER BY id DESC LIMIT ?',
    ),
  };

  const toModel = (r: Record<string, unknown> | undefined): ModelVersionRow | undefined =>
    r === undefined ? undefined : (r as unknown as ModelVersionRow);

  const store = {
    db: db as Db,
    close: (): void => {
      db.close();
    },
    transaction: <T>(fn: () => T): T => db.transaction(fn)(),

    // ---- devices ----
    getDevice: (id: string): DeviceRow | undefined => {
      const r = s.deviceGet.get(id);
      return r ? deviceFromRow(r) : undefined;
    },
    listDevices: (): DeviceRow[] => s.deviceList.all().map(deviceFromRow),
    /** Registered devices per last known status (the `edgefleet_devices` gauge). */
    deviceStatusCounts: (): { status: string; n: number }[] => s.deviceStatusCounts.all(),
    brokerHashes: () => s.brokerHashes.all().map((r) => ({ id: r.id, hash: r.broker_hash })),
    insertDevice: (d: { id: string; tags: Record<string, string>; tokenHash: string; brokerHash: string | null; createdAt: string }) => {
      s.deviceInsert.run({ ...d, tags: JSON.stringify(d.tags) });
      s.seqEnsure.run(d.id);
    },
    setDeviceTags: (id: string, tags: Record<string, string>) => s.deviceTags.run(JSON.stringify(tags), id).changes > 0,
    deleteDevice: (id: string) => {
      s.desiredDelete.run(id);
      // a device added again under this id starts a fresh telemetry sequence (it has new credentials)
      s.telemetryDedupDelete.run(id);
      s.telemetryFloorDelete.run(id);
      s.fetchesDelete.run(id);
      return s.deviceDelete.run(id).changes > 0;
    },
    setDeviceStatus: (id: string, status: 'online' | 'offline', at: string) =>
      s.deviceStatus.run(status, at, at, id).changes > 0,
    setDeviceSeen: (id: string, at: string) => s.deviceSeen.run(at, id),
    setDeviceReported: (id: string, reported: unknown, at: string) =>
      s.deviceReported.run(JSON.stringify(reported), at, at, id).changes > 0,
    markAllOffline: (at: string) => s.allOffline.run(at),

    // ---- sequences and desired states ----
    nextDesiredSequence: (deviceId: string): number => {
      s.seqEnsure.run(deviceId);
      return s.seqNextDesired.get(deviceId)!.desired;
    },
    nextCommandSequence: (deviceId: string): number => {
      s.seqEnsure.run(deviceId);
      return s.seqNextCommand.get(deviceId)!.command;
    },
    getDesired: (deviceId: string): DesiredRow | undefined => {
      const r = s.desiredGet.get(deviceId);
      return r ? desiredFromRow(r) : undefined;
    },
    listDesired: (): DesiredRow[] =>
      s.desiredAll.all().map(desiredFromRow),
    putDesired: (d: DesiredRow) => s.desiredUpsert.run({ ...d, artifacts: JSON.stringify(d.artifacts) }),

    // ---- models ----
    getModelVersion: (model: string, version: string) => toModel(s.modelGet.get(model, version)),
    listModelVersions: (model: string) => s.modelVersions.all(model).map((r) => toModel(r)!),
    listAllModelVersions: () => s.modelAll.all().map((r) => toModel(r)!),
    modelVersionBySha: (sha: string) => toModel(s.modelBySha.get(sha)),
    maxRelease: (model: string): number => s.modelMaxRelease.get(model)?.r ?? 0,
    insertModelVersion: (m: ModelVersionRow) => s.modelInsert.run(m),

    // ---- rollouts ----
    insertRollout: (r: Omit<RolloutRow, 'seq' | 'updatedAt' | 'spec' | 'state'> & { spec?: unknown; state?: unknown }) =>
      s.rolloutInsert.run({
        ...r,
        targets: JSON.stringify(r.targets),
        options: JSON.stringify(r.options),
        spec: r.spec == null ? null : JSON.stringify(r.spec),
        state: r.state == null ? null : JSON.stringify(r.state),
      }),
    getRollout: (id: string) => {
      const r = s.rolloutGet.get(id);
      return r ? rolloutFromRow(r) : undefined;
    },
    listRollouts: () => s.rolloutAll.all().map(rolloutFromRow),
    setRolloutStatus: (id: string, status: string, at: string) => s.rolloutStatus.run(status, at, id).changes > 0,
    /** The gated engine's new state (and its status, mirrored in the column for queries). */
    setRolloutState: (id: string, status: string, state: unknown, at: string) =>
      s.rolloutState.run(status, JSON.stringify(state), at, id).changes > 0,

    // ---- tokens ----
    tokenByHash: (hash: string): TokenRow | undefined => {
      const r = s.tokenByHash.get(hash);
      return r ? { id: r.id, hash: r.hash, role: r.role as Role, name: r.name, createdAt: r.created_at } : undefined;
    },
    insertToken: (t: TokenRow) => s.tokenInsert.run(t.id, t.hash, t.role, t.name, t.createdAt),
    tokenCount: () => s.tokenCount.get()!.n,

    // ---- audit (append-only, hash-chained; design §7) ----
    appendAudit: (actor: string, action: string, details: unknown, at = new Date().toISOString()) => {
      const prev = s.auditLast.get()?.hash ?? AUDIT_GENESIS;
      const body = JSON.stringify(details ?? {});
      s.auditInsert.run(at, actor, action, body, prev, auditHash(prev, at, actor, action, body));
    },
    listAudit: (): AuditRow[] =>
      s.auditAll.all().map((r) => ({ id: r.id, at: r.at, actor: r.actor, action: r.action, details: r.details, prevHash: r.prev_hash, hash: r.hash })),

    // ---- events ----
    insertEvent: (e: { deviceId: string; type: string; model: string | null; version: string | null; code: string | null; message: string; at: string; receivedAt: number }) =>
      s.eventInsert.run(e),
    eventsForDevice: (deviceId: string, limit = 50) => s.eventsForDevice.all(deviceId, limit),
  };
  return store;
}
