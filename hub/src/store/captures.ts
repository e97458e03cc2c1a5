// SQL of captured field data (design §4 capture, §7 store): rows by model version with their prediction id,
// prediction, confidence and any label that arrives later; dataset exports with their content hash. Ingest
// writes rows in its flush transaction (once per telemetry batch, de-duplicated on (deviceId, seq) there and on
// (device, model, prediction id) here); the datasets API reads them; retention prunes them.

import type { SqlDatabase, SqlValue } from './sql.js';

/** One captured row as ingest stores it. */
export interface CaptureInsert {
  deviceId: string;
  model: string;
  version: string;
  predictionId: string;
  at: number;
  receivedAt: number;
  trigger: string;
  /** JSON text of the (device-side redacted) features. */
  features: string;
  /** JSON text of the prediction and label (class name, index or value), or null. */
  prediction: string | null;
  confidence: number | null;
  label: string | null;
  bytes: number;
}

/** A late label for a captured row of `deviceId` (only that device's rows). */
export interface CaptureLabelUpdate {
  deviceId: string;
  model: string;
  predictionId: string;
  /** JSON text. */
  label: string;
  at: number;
}

export interface CaptureQuery {
  model: string;
  version: string;
  /** Predictions at or after (epoch ms). */
  since?: number;
  tags?: Record<string, string>;
  labelled?: boolean;
  /** Rows after this id (paging). */
  afterId?: number;
  limit: number;
}

export interface CaptureRowOut {
  id: number;
  device_id: string;
  prediction_id: string;
  at: number;
  cause: string;
  features: string;
  prediction: string | null;
  confidence: number | null;
  label: string | null;
}

export interface DatasetSummary {
  model: string;
  version: string;
  n: number;
  labelled: number;
  bytes: number;
  first: number | null;
  last: number | null;
}

export interface DatasetExportRecord {
  sha256: string;
  model: string;
  version: string;
  filters: string;
  rows: number;
  bytes: number;
  at: string;
  actor: string;
}

export type CaptureSql = ReturnType<typeof createCaptureSql>;

export function createCaptureSql(sql: SqlDatabase) {
  const d = sql.dialect;
  return {
    /** Inserts rows; a row of a (device, model, prediction id) stored before is skipped. Resolves to rows inserted. */
    insert: (rows: readonly CaptureInsert[]): Promise<number> =>
      sql.insertRows(
        'captures',
        ['device_id', 'model', 'version', 'prediction_id', 'at', 'received_at', 'cause', 'features', 'prediction', 'confidence', 'label', 'bytes'],
        rows.map((r) => [r.deviceId, r.model, r.version, r.predictionId, r.at, r.receivedAt, r.trigger, r.features, r.prediction, r.confidence, r.label, r.bytes]),
        { ignoreConflicts: true },
      ),
    /** Joins late labels to the sending device's own rows; resolves to the rows updated. */
    async label(updates: readonly CaptureLabelUpdate[]): Promise<number> {
      let n = 0;
      for (const u of updates) {
        n += await sql.run('UPDATE captures SET label = @label, label_at = @at WHERE device_id = @deviceId AND model = @model AND prediction_id = @predictionId', { ...u });
      }
      return n;
    },
    /** Rows of one model version by id, filtered (the export pages through these). */
    page(q: CaptureQuery): Promise<CaptureRowOut[]> {
      const clauses = ['model = @model', 'version = @version', 'id > @afterId'];
      const params: Record<string, SqlValue> = { model: q.model, version: q.version, afterId: q.afterId ?? 0, limit: q.limit };
      if (q.since !== undefined) (clauses.push('at >= @since'), (params.since = q.since));
      if (q.labelled) clauses.push('label IS NOT NULL');
      Object.entries(q.tags ?? {}).forEach(([k, v], i) => {
        clauses.push(`device_id IN (SELECT id FROM devices WHERE ${d.jsonText('tags', [{ param: `tk${i}` }])} = @tv${i})`);
        params[`tk${i}`] = k;
        params[`tv${i}`] = v;
      });
      return sql.all<CaptureRowOut>(
        `SELECT id, device_id, prediction_id, at, cause, features, prediction, confidence, label FROM captures WHERE ${clauses.join(' AND ')} ORDER BY id LIMIT @limit`,
        params,
      );
    },
    /** Per model version: rows, labelled rows, bytes, first and last prediction time. */
    summaries: (): Promise<DatasetSummary[]> =>
      sql.all<DatasetSummary>(
        `SELECT model, version, COUNT(*) AS n, COUNT(label) AS labelled, COALESCE(SUM(bytes), 0) AS bytes, MIN(at) AS first, MAX(at) AS last
         FROM captures GROUP BY model, version ORDER BY model, version`,
      ),
    recordExport: (r: DatasetExportRecord): Promise<number> =>
      sql.run('INSERT INTO dataset_exports (sha256, model, version, filters, row_count, bytes, at, actor) VALUES (@sha256, @model, @version, @filters, @rows, @bytes, @at, @actor)', { ...r }),
    findExport: (sha256: string): Promise<DatasetExportRecord | undefined> =>
      sql.get<DatasetExportRecord>('SELECT sha256, model, version, filters, row_count AS rows, bytes, at, actor FROM dataset_exports WHERE sha256 = @sha256 ORDER BY id LIMIT 1', { sha256 }),
    exports: (limit: number): Promise<DatasetExportRecord[]> =>
      sql.all<DatasetExportRecord>('SELECT sha256, model, version, filters, row_count AS rows, bytes, at, actor FROM dataset_exports ORDER BY id DESC LIMIT @limit', { limit }),
    /**
     * Retention (design §7): rows received before `before`, then per model the oldest rows beyond `maxBytesPerModel`.
     * Resolves to the rows deleted.
     */
    prune: (before: number, maxBytesPerModel: number): Promise<number> =>
      sql.transaction(async (tx) => {
        let n = await tx.run('DELETE FROM captures WHERE received_at < @before', { before });
        const over = await tx.all<{ model: string; bytes: number }>('SELECT model, SUM(bytes) AS bytes FROM captures GROUP BY model HAVING SUM(bytes) > @max', { max: maxBytesPerModel });
        for (const m of over) {
          // the newest rows that fit stay: the cut is the id where the running total from the newest passes the limit
          let excess = m.bytes - maxBytesPerModel;
          let cut = 0;
          for (let afterId = 0; excess > 0; ) {
            const rows = await tx.all<{ id: number; bytes: number }>('SELECT id, bytes FROM captures WHERE model = @model AND id > @afterId ORDER BY id LIMIT 1000', { model: m.model, afterId });
            if (rows.length === 0) break;
            for (const r of rows) {
              if (excess <= 0) break;
              excess -= r.bytes;
              cut = r.id;
            }
            afterId = rows[rows.length - 1]!.id;
          }
          if (cut > 0) n += await tx.run('DELETE FROM captures WHERE model = @model AND id <= @cut', { model: m.model, cut });
        }
        return n;
      }),
  };
}

/** GET /datasets as clients read it (the route's schema, http/routes/datasets.ts, answers exactly this). */
export interface DatasetListView {
  datasets: Array<{ model: string; version: string; rows: number; labelled: number; bytes: number; first: string | null; last: string | null }>;
  exports: Array<Omit<DatasetExportRecord, 'filters'> & { filters: DatasetExportFilters }>;
}

export interface DatasetExportFilters {
  since?: number;
  tags?: Record<string, string>;
  labelled?: boolean;
}

/** The body of POST /datasets/:model/:version/export. */
export interface DatasetExportRequestBody {
  since?: number;
  tag?: string[];
  labelled?: boolean;
}
