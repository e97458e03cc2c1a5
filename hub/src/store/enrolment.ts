// SQL of one-time enrolment (a browser device enrols from a link): codes stored by their sha256, burnt by
// their one redemption; and the new device token a redemption issues, which starts the device afresh.

import type { Db } from './db.js';
import { preparedPerDb } from './prepared.js';

export interface EnrolmentCodeRow {
  hash: string;
  deviceId: string;
  createdAt: string;
  createdBy: string;
  expiresAt: string;
  usedAt: string | null;
}

export type EnrolmentSql = ReturnType<typeof prepare>;

/** The enrolment statements of a store's database (prepared once per database). */
export const createEnrolmentSql = preparedPerDb(prepare);

function prepare(db: Db) {
  const st = {
    insert: db.prepare('INSERT INTO enrolment_codes (hash, device_id, created_at, created_by, expires_at) VALUES (?, ?, ?, ?, ?)'),
    get: db.prepare<[string], { hash: string; device_id: string; created_at: string; created_by: string; expires_at: string; used_at: string | null }>(
      'SELECT * FROM enrolment_codes WHERE hash = ?',
    ),
    burn: db.prepare('UPDATE enrolment_codes SET used_at = ? WHERE hash = ? AND used_at IS NULL'),
    // a code past its expiry is refused whether or not its row is still here; rows a day past go
    prune: db.prepare('DELETE FROM enrolment_codes WHERE expires_at < ?'),
    token: db.prepare('UPDATE devices SET token_hash = ?, broker_hash = ? WHERE id = ?'),
    dedupDelete: db.prepare('DELETE FROM telemetry_batches WHERE device_id = ?'),
    floorDelete: db.prepare('DELETE FROM telemetry_seq_floor WHERE device_id = ?'),
    fetchesDelete: db.prepare('DELETE FROM artifact_fetches WHERE device_id = ?'),
  };
  return {
    insertCode: (c: Omit<EnrolmentCodeRow, 'usedAt'>): void => void st.insert.run(c.hash, c.deviceId, c.createdAt, c.createdBy, c.expiresAt),
    code(hash: string): EnrolmentCodeRow | undefined {
      const r = st.get.get(hash);
      return r && { hash: r.hash, deviceId: r.device_id, createdAt: r.created_at, createdBy: r.created_by, expiresAt: r.expires_at, usedAt: r.used_at };
    },
    /** False when the code was used already (or is gone): exactly one redemption burns it. */
    burnCode: (hash: string, at: string): boolean => st.burn.run(at, hash).changes > 0,
    pruneCodes: (before: string): number => st.prune.run(before).changes,
    /**
     * A device's new credentials. Its next agent is a new one (a fresh outbox, sequences from 1, no chunks):
     * its telemetry de-duplication records and fetched chunks go, as when a device is removed and added.
     */
    replaceDeviceToken(id: string, tokenHash: string, brokerHash: string | null): boolean {
      const changed = st.token.run(tokenHash, brokerHash, id).changes > 0;
      if (changed) {
        st.dedupDelete.run(id);
        st.floorDelete.run(id);
        st.fetchesDelete.run(id);
      }
      return changed;
    },
  };
}
