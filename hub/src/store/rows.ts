// The store's row types as the hub sees them, and how the raw rows both engines return map onto them.

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
  /** The sequence last published for this device (the outbox, design §8); `sequence` is ahead of it until then. */
  published?: number;
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

export interface RawDevice {
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

export function deviceFromRow(r: RawDevice): DeviceRow {
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

export interface RawRollout {
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

export function rolloutFromRow(r: RawRollout): RolloutRow {
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

export interface RawDesired {
  device_id: string;
  sequence: number;
  envelope: string;
  artifacts: string;
  fingerprint: string;
  issued_at: string;
  expires_at: string;
  published: number;
}

export const desiredFromRow = (r: RawDesired): DesiredRow => ({
  deviceId: r.device_id,
  sequence: r.sequence,
  envelope: r.envelope,
  artifacts: JSON.parse(r.artifacts) as string[],
  fingerprint: r.fingerprint,
  issuedAt: r.issued_at,
  expiresAt: r.expires_at,
  published: r.published,
});
