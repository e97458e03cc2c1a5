// One-time enrolment links (a browser device enrols without a long-lived token in any URL): an operator
// makes a short-lived code for an existing device; the page opened at `<hub>/device/#enrol=<code>` trades
// it once for the device's agent config, with a new device token (tokens are stored hashed: the old one
// cannot be shown again, so it is replaced). Only the code's sha256 is stored. The code rides in the URL's
// fragment, which a browser never sends, so it reaches no access log; the page drops it from its history.

import { createHash, randomBytes } from 'node:crypto';
import { EdgefleetError, type AgentConfig } from '@edgefleet/protocol';
import type { HubContext } from '../context.js';

/** How long a code is valid: 15 min unless asked, never under a minute nor over a day. */
export const ENROLMENT_TTL = { defaultMs: 15 * 60_000, minMs: 60_000, maxMs: 86_400_000 } as const;
/** 32 random bytes, base64url: 43 characters. */
const CODE = /^[A-Za-z0-9_-]{43}$/;

export interface EnrolmentLink {
  deviceId: string;
  /** Shown once; the hub keeps only its hash. */
  code: string;
  /** The device page with the code in its fragment. */
  url: string;
  expiresAt: string;
}

export interface Enrolled {
  deviceId: string;
  /** What `edgefleet device add --out` writes, with the device's new token. */
  agentConfig: AgentConfig;
}

/** Why a redemption was refused, as counted in `edgefleet_enrolment_redemptions_total`. */
export type RedeemRefusal = 'malformed' | 'unknown' | 'used' | 'expired';

export interface EnrolmentDeps {
  /** Replace the device's token (the old one stops working at once) and build its agent config. */
  reissue(deviceId: string, actor: string, details: Record<string, unknown>): Promise<{ agentConfig: AgentConfig }>;
  /** Throws NOT_FOUND when there is no such device. */
  must(deviceId: string): Promise<void>;
}

export interface Enrolments {
  create(deviceId: string, options: { ttlMs?: number }, actor: string): Promise<EnrolmentLink>;
  /** NOT_FOUND for a malformed, unknown, used or expired code; nothing changes then. */
  redeem(code: string): Promise<Enrolled>;
}

const codeHash = (code: string) => createHash('sha256').update(code, 'utf8').digest('hex');

export function createEnrolments(ctx: HubContext, deps: EnrolmentDeps): Enrolments {
  const { store, metrics } = ctx;
  const sql = store.enrolment;
  const refuse = (outcome: RedeemRefusal, message: string): never => {
    metrics.inc('edgefleet_enrolment_redemptions_total', { outcome });
    throw new EdgefleetError('NOT_FOUND', message);
  };

  return {
    async create(deviceId, options, actor) {
      const ttlMs = options.ttlMs ?? ENROLMENT_TTL.defaultMs;
      if (!Number.isInteger(ttlMs) || ttlMs < ENROLMENT_TTL.minMs || ttlMs > ENROLMENT_TTL.maxMs) {
        throw new EdgefleetError('BAD_INPUT', `an enrolment code lives between 1 min and 24 h, got ${ttlMs} ms`);
      }
      const now = ctx.now();
      const code = randomBytes(32).toString('base64url');
      const expiresAt = new Date(now.getTime() + ttlMs).toISOString();
      await store.transaction(async () => {
        await deps.must(deviceId);
        // a refused code reads "expired" for a day after its expiry, then "unknown"
        await sql.pruneCodes(new Date(now.getTime() - ENROLMENT_TTL.maxMs).toISOString());
        await sql.insertCode({ hash: codeHash(code), deviceId, createdAt: now.toISOString(), createdBy: actor, expiresAt });
        await store.appendAudit(actor, 'device.enrolment', { id: deviceId, expiresAt }, now.toISOString());
      });
      const url = new URL('device/', ctx.hubUrl().replace(/\/?$/, '/'));
      url.hash = `enrol=${code}`;
      return { deviceId, code, url: url.href, expiresAt };
    },
    async redeem(code) {
      if (!CODE.test(code)) return refuse('malformed', 'not an enrolment code');
      const hash = codeHash(code);
      const now = ctx.now();
      const row = await sql.code(hash);
      if (!row) return refuse('unknown', 'unknown enrolment code');
      if (row.usedAt !== null) return refuse('used', 'this enrolment code was used already: create a new one');
      if (Date.parse(row.expiresAt) <= now.getTime()) return refuse('expired', 'this enrolment code expired: create a new one');
      // the burn is the one redemption: an UPDATE of an unused row, which only one of two racing redeemers
      // (on this hub or another replica) changes
      if (!(await sql.burnCode(hash, now.toISOString()))) return refuse('used', 'this enrolment code was used already: create a new one');
      const { agentConfig } = await deps.reissue(row.deviceId, `device:${row.deviceId}`, { via: 'enrolment', codeBy: row.createdBy });
      metrics.inc('edgefleet_enrolment_redemptions_total', { outcome: 'redeemed' });
      return { deviceId: row.deviceId, agentConfig };
    },
  };
}
