// The audit table read whole in id order, for the chain check (trust/audit.ts); rows are written only by
// the store's appendAudit.

import type { SqlDatabase } from './sql.js';

export interface AuditChainRow {
  id: number;
  at: string;
  actor: string;
  action: string;
  details: string;
  prev_hash: string;
  hash: string;
}

export type AuditStore = ReturnType<typeof createAuditStore>;

const PAGE = 1000;

export function createAuditStore(sql: SqlDatabase) {
  return {
    /** Every row, oldest first, read a page at a time (the log can be long). */
    async *chain(): AsyncGenerator<AuditChainRow> {
      let after = -1;
      for (;;) {
        const rows = await sql.all<AuditChainRow>('SELECT id, at, actor, action, details, prev_hash, hash FROM audit WHERE id > @after ORDER BY id LIMIT @limit', { after, limit: PAGE });
        yield* rows;
        if (rows.length < PAGE) return;
        after = rows[rows.length - 1]!.id;
      }
    },
  };
}
