// The audit table read whole in id order, for the chain check (trust/audit.ts); rows are written only by
// the store's appendAudit.

import type { Db } from './db.js';

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

export function createAuditStore(db: Db) {
  const all = db.prepare<[], AuditChainRow>('SELECT id, at, actor, action, details, prev_hash, hash FROM audit ORDER BY id');
  return {
    /** Every row, oldest first, streamed (the log can be long). */
    chain: (): IterableIterator<AuditChainRow> => all.iterate(),
  };
}
