// The device registry (design §4, §7): credentials (random token, stored hashed), tags, agent configs,
// removal that revokes at once, one-time enrolment links (enrolment.ts). Reported state and status are
// written by ingest.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { AgentConfig, DeviceId, EdgefleetError, toBase64, type ReportedState } from '@edgefleet/protocol';
import type { HubContext } from '../context.js';
import type { DeviceRow } from '../store/db.js';
import { mosquittoPasswordHash } from '../broker/mosquitto.js';
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
  onChanged(deviceId: string): Promise<void>;
  onRemoved(deviceId: string): Promise<void>;
}

export interface DeviceRegistry {
  add(id: string, tags: Record<string, string>, actor: string): Promise<{ device: DeviceView; token: string; agentConfig: AgentConfig }>;
  get(id: string): Promise<DeviceView>;
  list(): Promise<DeviceView[]>;
  /** The devices with these ids that exist, in id order. */
  some(ids: readonly string[]): Promise<DeviceView[]>;
  setTags(id: string, tags: Record<string, string>, actor: string): Promise<DeviceView>;
  remove(id: string, actor: string): Promise<void>;
  /** A one-time enrolment code and link for an existing device (enrolment.ts). */
  enrol(id: string, options: { ttlMs?: number }, actor: string): Promise<EnrolmentLink>;
  /** Trade an enrolment code, once, for the device's agent config with a new token (the old one stops working). */
  redeem(code: string): Promise<Enrolled>;
  /** Broker authentication: constant-time compare of the token hash. */
  checkCredentials(id: string, password: Buffer | string | undefined): Promise<boolean>;
}

export function validateTags(tags: Record<string, string>): void {
  for (const [k, v] of Object.entries(tags)) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(k) || typeof v !== 'string' || v.length > 128) {
      throw new EdgefleetError('BAD_INPUT', `bad tag ${JSON.stringify(k)}: keys are [A-Za-z0-9._-]{1,64}, values at most 128 chars`);
    }
  }
}

export function createDeviceRegistry(ctx: HubContext, hooks: DeviceRegistryHooks, options: { brokerHashes: boolean; onCredentialsChanged?: () => Promise<void> }): DeviceRegistry {
  const { store } = ctx;
  const view = (d: DeviceRow, desired: ReadonlyMap<string, number>): DeviceView => ({
    id: d.id,
    tags: d.tags,
    createdAt: d.createdAt,
    status: d.status,
    statusAt: d.statusAt,
    lastSeen: d.lastSeen,
    reported: d.reported as ReportedState | null,
    reportedAt: d.reportedAt,
    desiredSequence: desired.get(d.id) ?? null,
  });
  const views = async (rows: DeviceRow[]): Promise<DeviceView[]> => {
    // one read of the desired states for a page of devices, not one per device
    const desired = new Map<string, number>();
    const found = rows.length === 1 ? [await store.getDesired(rows[0]!.id)] : rows.length > 1 ? await store.listDesired() : [];
    for (const r of found) if (r) desired.set(r.deviceId, r.sequence);
    return rows.map((d) => view(d, desired));
  };
  const one = async (d: DeviceRow): Promise<DeviceView> => (await views([d]))[0]!;
  const must = async (id: string): Promise<DeviceRow> => {
    const d = await store.getDevice(id);
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
  // design §7 "removal revokes at once", on every replica: a device removed or given new credentials on any
  // replica loses its connection to this one's embedded broker
  store.changes.subscribe('device-revoked', (id) => {
    if (id !== null) ctx.bus.disconnect(id);
  });
  const credentialsChanged = () => options.onCredentialsChanged?.().catch((err: unknown) => ctx.log(`broker credentials: ${String(err)}`));
  const enrolments = createEnrolments(ctx, {
    must: async (id) => void (await must(id)),
    async reissue(id, actor, details) {
      const token = newToken();
      await store.transaction(async () => {
        await must(id);
        await store.enrolment.replaceDeviceToken(id, hashToken(token), options.brokerHashes ? mosquittoPasswordHash(token) : null);
        await store.appendAudit(actor, 'device.token', { id, ...details });
      });
      await credentialsChanged();
      await hooks.onChanged(id);
      ctx.bus.disconnect(id); // the old token is revoked at once, as on removal
      return { agentConfig: agentConfig(id, token) };
    },
  });

  return {
    async add(id, tags, actor) {
      if (!DeviceId.safeParse(id).success) {
        throw new EdgefleetError('BAD_INPUT', `device id must match [a-z0-9][a-z0-9-]{0,62}, got ${JSON.stringify(id)}`);
      }
      validateTags(tags);
      const token = newToken();
      const createdAt = ctx.now().toISOString();
      await store.transaction(async () => {
        if (await store.getDevice(id)) throw new EdgefleetError('CONFLICT', `device ${id} already exists`);
        await store.insertDevice({
          id,
          tags,
          tokenHash: hashToken(token),
          brokerHash: options.brokerHashes ? mosquittoPasswordHash(token) : null,
          createdAt,
        });
        await store.appendAudit(actor, 'device.add', { id, tags });
      });
      await credentialsChanged();
      await hooks.onChanged(id);
      return { device: await one(await must(id)), token, agentConfig: agentConfig(id, token) };
    },
    get: async (id) => one(await must(id)),
    list: async () => views(await store.listDevices()),
    some: async (ids) => views(await store.devicesByIds(ids)),
    async setTags(id, tags, actor) {
      validateTags(tags);
      await store.transaction(async () => {
        await must(id);
        await store.setDeviceTags(id, tags);
        await store.appendAudit(actor, 'device.tags', { id, tags });
      });
      await hooks.onChanged(id);
      return one(await must(id));
    },
    async remove(id, actor) {
      await store.transaction(async () => {
        await must(id);
        await store.deleteDevice(id);
        await store.appendAudit(actor, 'device.remove', { id });
      });
      await credentialsChanged();
      await hooks.onRemoved(id);
      ctx.bus.disconnect(id); // design §7: removal revokes the credentials at once
    },
    enrol: (id, opts, actor) => enrolments.create(id, opts, actor),
    redeem: (code) => enrolments.redeem(code),
    async checkCredentials(id, password) {
      if (password === undefined) return false;
      const d = await store.getDevice(id);
      if (!d) return false;
      const given = Buffer.from(hashToken(typeof password === 'string' ? password : password.toString('utf8')), 'hex');
      const want = Buffer.from(d.tokenHash, 'hex');
      return given.length === want.length && timingSafeEqual(given, want);
    },
  };
}
