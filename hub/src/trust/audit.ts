// Audit chain verification (design §7): walks the append-only audit log in id order and names
// the first row whose hash or link to its predecessor does not hold, and what broke.

import { auditHash, type Store } from '../store/db.js';

const GENESIS = '0'.repeat(64);

export type AuditBreak = 'content' | 'prev-hash' | 'link';

export interface AuditVerification {
  ok: boolean;
  /** Rows verified before the first broken one (all rows when ok). */
  entries: number;
  /** Id of the first broken row. */
  brokenAt?: number;
  /** What broke there: its content no longer matches its hash, its prev_hash was edited, or the chain skips. */
  reason?: AuditBreak;
  message?: string;
  row?: { id: number; at: string; actor: string; action: string };
}

/**
 * Verify the whole chain. Each row's hash is sha256 over (prev_hash, at, actor, action, details) and its
 * prev_hash must equal the previous row's hash (genesis: 64 zeros). Limitation: rows cut off at the end
 * leave a valid shorter chain; only an external copy of the last hash detects that.
 */
export async function verifyAuditChain(store: Pick<Store, 'audit'>): Promise<AuditVerification> {
  let prev = GENESIS;
  let prevId = 0;
  let n = 0;
  for await (const r of store.audit.chain()) {
    const row = { id: r.id, at: r.at, actor: r.actor, action: r.action };
    const fail = (reason: AuditBreak, message: string): AuditVerification => ({ ok: false, entries: n, brokenAt: r.id, reason, message, row });
    if (r.prev_hash === prev) {
      if (auditHash(prev, r.at, r.actor, r.action, r.details) !== r.hash) {
        return fail('content', `row ${r.id} (${r.action}): its content (at, actor, action or details) or hash was changed after it was written`);
      }
    } else if (auditHash(prev, r.at, r.actor, r.action, r.details) === r.hash) {
      return fail('prev-hash', `row ${r.id} (${r.action}): its prev_hash was changed (the row itself is intact)`);
    } else if (auditHash(r.prev_hash, r.at, r.actor, r.action, r.details) === r.hash) {
      const gap =
        r.id === prevId + 2
          ? `row ${prevId + 1} is missing`
          : r.id > prevId + 2
            ? `rows ${prevId + 1}…${r.id - 1} are missing`
            : `row ${prevId} was rewritten or a row was removed before it`;
      return fail('link', `row ${r.id} (${r.action}) does not follow ${prevId === 0 ? 'the start of the log' : `row ${prevId}`}: ${gap}`);
    } else {
      return fail('content', `row ${r.id} (${r.action}): neither its hash nor its link to row ${prevId} holds (row edited)`);
    }
    prev = r.hash;
    prevId = r.id;
    n++;
  }
  return { ok: true, entries: n };
}
