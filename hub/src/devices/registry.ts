// The device registry (design §4, §7): credentials (random token, stored hashed), tags, agent configs,
// removal that revokes at once, one-time enrolment links (enrolment.ts). Reported state and status are
// written by ingest.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { AgentConfig, DeviceId, EdgefleetError, toBase64, type ReportedState } from '@edgefleet/protocol';
import type { HubContext } from '../context.js';
import type { DeviceRow } from '../store/db.js';
import { mosquittoPasswordHash } from '../broker/mosquitto.js';
import { createEnrolmentSql } from '../store/enrolment.js';
import { createEnrolments, type Enrolled, type EnrolmentLink } from './enrolment.js';

export interface DeviceView {
  id: string;
  tags: Record<string, string>;
  createdAt: string;
  status: 'online' | 'offline';
  statusAt: string | null;
  lastSeen: string | null;
  /** As the device last reported it (ingest validated it against ReportedState before storing). */
  reported: ReportedState | null;
  reportedAt: string | null;
  desiredSequence: number | null;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function newToken(): string {
  return randomBytes(32).toString('base64url');
}


export interface DeviceRegistryHooks {
  /** A device joined or changed: recompute its desired state (design §7: late joiners get the rollout). */
  onChanged(deviceId: string): void;
  onRemoved(deviceId: string): void;
}

export interface DeviceRegistry {
  add(id: string, tags: Record<string, string>, actor: string): { device: DeviceView; token: string; agentConfig: AgentConfig };
  get(id: string): DeviceView;
  list(): DeviceView[];
  setTags(id: string, tags: Record<string, string>, actor: string): DeviceView;
  remove(id: string, actor: string): void;
  /** A one-time enrolment code and link for an existing device (enrolment.ts). */
  enrol(id: string, options: { ttlMs?: number }, actor: string): EnrolmentLink;
  /** Trade an enrolment code, once, for the device's agent config with a new token (the old one stops working). */
  redeem(code: string): Enrolled;
  /** Broker authentication: constant-time compare of the token hash. */
  checkCredentials(id: string, password: Buffer | string | undefined): boolean;
}

export function validateTags(tags: Record<string, string>): void {
  for (const [k, v] of Object.entries(tags)) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(k) || typeof v !== 'string' || v.length > 128) {
      throw new EdgefleetError('BAD_INPUT', `bad tag ${JSON.stringify(k)}: keys are [A-Za-z0-9._-]{1,64}, values at most 128 chars`);
    }
  }
}

export function createDeviceRegistry(ctx: HubContext, hooks: DeviceRegistryHooks, options: { brokerHashes: boolean; onCredentialsChanged?: () => void }): DeviceRegistry {
  const { store } = ctx;
  const view = (d: DeviceRow): DeviceView => ({
    id: d.id,
    tags: d.tags,
    createdAt: d.createdAt,
    status: d.status,
    statusAt: d.statusAt,
    lastSeen: d.lastSeen,
    reported: d.reported as ReportedState | null,
    reportedAt: d.reportedAt,
    desiredSequence: store.getDesired(d.id)?.sequence ?? null,
  });
  const must = (id: string): DeviceRow => {
    const d = store.getDevice(id);
    if (!d) throw new EdgefleetError('NOT_FOUND', `device ${id} not found`);
    return d;
  };

  const agentConfig = (id: string, token: string): AgentConfig =>
    AgentConfig.parse({
      deviceId: id,
      brokers: ctx.agentBrokers(),
      username: id,
      password: token,
      rootPublicKey: toBase64(ctx.keys.root.publicKey),
      hubUrl: ctx.hubUrl(),
      dataDir: './edgefleet-agent-data',
      api: '127.0.0.1:8090',
    });
  const enrolSql = createEnrolmentSql(store);
  const enrolments = createEnrolments(ctx, {
    must: (id) => void must(id),
    reissue(id, actor, details) {
      const token = newToken();
      store.transaction(() => {
        must(id);
        enrolSql.replaceDeviceToken(id, hashToken(token), options.brokerHashes ? mosquittoPasswordHash(token) : null);
        store.appendAudit(actor, 'device.token', { id, ...details });
      });
      options.onCredentialsChanged?.();
      hooks.onChanged(id);
      ctx.bus.disconnect(id); // the old token is revoked at once, as on removal
      return { agentConfig: agentConfig(id, token) };
    },
  });

  return {
    add(id, tags, actor) {
      if (!DeviceId.safeParse(id).success) {
        throw new EdgefleetError('BAD_INPUT', `device id must match [a-z0-9][a-z0-9-]{0,62}, got ${JSON.stringify(id)}`);
      }
      validateTags(tags);
      const token = newToken();
      const createdAt = ctx.now().toISOString();
      store.transaction(() => {
        if (store.getDevice(id)) throw new EdgefleetError('CONFLICT', `device ${id} already exists`);
        store.insertDevice({
          id,
          tags,
          tokenHash: hashToken(token),
          brokerHash: options.brokerHashes ? mosquittoPasswordHash(token) : null,
          createdAt,
        });
        store.appendAudit(actor, 'device.add', { id, tags });
      });
      options.onCredentialsChanged?.();
      hooks.onChanged(id);
      return { device: view(must(id)), token, agentConfig: agentConfig(id, token) };
    },
    get: (id) => view(must(id)),
    list: () => store.listDevices().map(view),
    setTags(id, tags, actor) {
      validateTags(tags);
      store.transaction(() => {
        must(id);
        store.setDeviceTags(id, tags);
        store.appendAudit(actor, 'device.tags', { id, tags });
      });
      hooks.onChanged(id);
      return view(must(id));
    },
    remove(id, actor) {
      store.transaction(() => {
        must(id);
        store.deleteDevice(id);
        store.appendAudit(actor, 'device.remove', { id });
      });
      options.onCredentialsChanged?.();
      hooks.onRemoved(id);
      ctx.bus.disconnect(id); // design §7: removal revokes the credentials at once
    },
    enrol: (id, opts, actor) => enrolments.create(id, opts, actor),
    redeem: (code) => enrolments.redeem(code),
    checkCredentials(id, password) {
      if (password === undefined) return false;
      const d = store.getDevice(id);
      if (!d) return false;
      const given = Buffer.from(hashToken(typeof password === 'string' ? password : password.toString('utf8')), 'hex');
      const want = Buffer.from(d.tokenHash, 'hex');
      return given.length === want.length && timingSafeEqual(given, want);
    },
  };
}
