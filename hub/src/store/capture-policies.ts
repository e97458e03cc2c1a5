// SQL of capture policies (design §4 capture): the rule an operator set at run time for one model version,
// stored as JSON (checked by the API before it is written, and again where desired states read it).

import type { CaptureRule } from '@edgefleet/protocol';
import type { SqlDatabase } from './sql.js';

/** A policy as the API answers it (http/routes/capture.ts checks its schema is exactly this). */
export interface CapturePolicyView {
  model: string;
  version: string;
  rule: CaptureRule;
  updatedAt: string;
  actor: string;
}

/** The body of PUT /capture-policies/:model/:version: a capture rule without model and version, defaults left out. */
export type CapturePolicyInput = Partial<Omit<CaptureRule, 'model' | 'version'>>;

export interface CapturePolicyRow {
  model: string;
  version: string;
  /** JSON text of the CaptureRule. */
  rule: string;
  updatedAt: string;
  actor: string;
}

export type CapturePolicySql = ReturnType<typeof createCapturePolicySql>;

const COLUMNS = 'model, version, rule, updated_at AS "updatedAt", actor';

export function createCapturePolicySql(sql: SqlDatabase) {
  return {
    list: (): Promise<CapturePolicyRow[]> => sql.all<CapturePolicyRow>(`SELECT ${COLUMNS} FROM capture_policies ORDER BY model, version`),
    get: (model: string, version: string): Promise<CapturePolicyRow | undefined> =>
      sql.get<CapturePolicyRow>(`SELECT ${COLUMNS} FROM capture_policies WHERE model = @model AND version = @version`, { model, version }),
    put: (r: CapturePolicyRow): Promise<number> =>
      sql.run(
        `INSERT INTO capture_policies (model, version, rule, updated_at, actor) VALUES (@model, @version, @rule, @updatedAt, @actor)
         ON CONFLICT (model, version) DO UPDATE SET rule = excluded.rule, updated_at = excluded.updated_at, actor = excluded.actor`,
        { ...r },
      ),
    /** Resolves to the rows deleted (0: there was none). */
    remove: (model: string, version: string): Promise<number> => sql.run('DELETE FROM capture_policies WHERE model = @model AND version = @version', { model, version }),
  };
}
