// SQL of one-time enrolment (a browser device enrols from a link): codes stored by their sha256, burnt by
// their one redemption; and the new device token a redemption issues, which starts the device afresh.

import type { SqlDatabase } from './sql.js';
import { CHANGE_TOPICS, type Changes } from './changes.js';

export interface EnrolmentCodeRow {
  hash: string;
  deviceId: string;
  createdAt: string;
  createdBy: string;
  expiresAt: string;
  usedAt: string | null;
}

export type EnrolmentSql = ReturnType<typeof createEnrolmentSql>;

export function createEnrolmentSql(sql: SqlDatabase, changes: Pick<Changes, 'publish'>) {
  return {
    insertCode: async (c: Omit<EnrolmentCodeRow, 'usedAt'>): Promise<void> =>
      void (await sql.run('INSERT INTO enrolment_codes (hash, device_id, created_at, created_by, expires_at) VALUES (@hash, @deviceId, @createdAt, @createdBy, @expiresAt)', { ...c })),
    async code(hash: string): Promise<EnrolmentCodeRow | undefined> {
      const r = await sql.get<{ hash: string; device_id: string; created_at: string; created_by: string; expires_at: string; used_at: string | null }>(
        'SELECT * FROM enrolment_codes WHERE hash = @hash',
        { hash },
      );
      return r && { hash: r.hash, deviceId: r.device_id, createdAt: r.created_at, createdBy: r.created_by, expiresAt: r.expires_at, usedAt: r.used_at };
    },
    /** False when the code was used already (or is gone): exactly one redemption burns it, on any replica. */
    burnCode: async (hash: string, at: string): Promise<boolean> =>
      (await sql.run('UPDATE enrolment_codes SET used_at = @at WHERE hash = @hash AND used_at IS NULL', { at, hash })) > 0,
    /** A code past its expiry is refused whether or not its row is still here; rows a day past go. */
    pruneCodes: (before: string): Promise<number> => sql.run('DELETE FROM enrolment_codes WHERE expires_at < @before', { before }),
    /**
     * A device's new credentials. Its next agent is a new one (a fresh outbox, sequences from 1, no chunks):
     * its telemetry de-duplication records and fetched chunks go, as when a device is removed and added.
     */
    replaceDeviceToken: (id: string, tokenHash: string, brokerHash: string | null): Promise<boolean> =>
      sql.transaction(async (tx) => {
        const changed = (await tx.run('UPDATE devices SET token_hash = @tokenHash, broker_hash = @brokerHash WHERE id = @id', { tokenHash, brokerHash, id })) > 0;
        if (changed) {
          await tx.run('DELETE FROM telemetry_batches WHERE device_id = @id', { id });
          await tx.run('DELETE FROM telemetry_seq_floor WHERE device_id = @id', { id });
          await tx.run('DELETE FROM artifact_fetches WHERE device_id = @id', { id });
          // the old token is revoked on every replica
          for (const topic of [CHANGE_TOPICS.device, CHANGE_TOPICS.deviceRevoked]) await changes.publish(topic, id);
        }
        return changed;
      }),
  };
}
