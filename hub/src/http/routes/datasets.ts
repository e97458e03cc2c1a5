// /datasets (design §2 `edgefleet data`, §4 capture): what captured field data the hub holds per model version,
// and exports of it as JSON Lines with their content hash — each recorded (lineage for `model push --dataset`)
// and audited.

import { createHash } from 'node:crypto';
import { z } from 'zod';
import { EdgefleetError, IsoTime, ModelName, SemVer, Sha256Hex } from '@edgefleet/protocol';
import { actor } from '../auth.js';
import { principal } from '../guard.js';
import { apiRoutes, type ApiDeps, type ApiRoutes } from '../api-routes.js';
import type { CaptureRowOut, DatasetExportRequestBody, DatasetListView } from '../../store/captures.js';
import { TagFilter, parseTagFilters } from './health.js';

const Count = z.number().int().min(0);

export const DatasetExportRecord = z.object({
  sha256: Sha256Hex,
  model: ModelName,
  version: SemVer,
  filters: z.object({ since: z.number().int().optional(), tags: z.record(z.string(), z.string()).optional(), labelled: z.boolean().optional() }),
  rows: Count,
  bytes: Count,
  at: IsoTime,
  actor: z.string(),
});
export const DatasetList = z.object({
  datasets: z.array(
    z.object({
      model: ModelName,
      version: SemVer,
      rows: Count,
      labelled: Count,
      bytes: Count.describe('stored bytes of the captured rows'),
      first: IsoTime.nullable().describe('earliest prediction'),
      last: IsoTime.nullable().describe('latest prediction'),
    }),
  ),
  exports: z.array(DatasetExportRecord).describe('the newest exports first'),
});

export const DatasetExportRequest = z.object({
  since: z.number().int().min(0).optional().describe('only predictions at or after (epoch ms)'),
  tag: z.array(TagFilter).max(32).optional().describe('key=value; only rows of devices with all these tags'),
  labelled: z.boolean().optional().describe('only rows with a label'),
});

/** One line of an export (JSON Lines): what a data scientist opens directly. */
export const DatasetLine = z.object({
  predictionId: z.string(),
  deviceId: z.string(),
  model: ModelName,
  version: SemVer,
  at: IsoTime,
  trigger: z.string(),
  features: z.record(z.string(), z.union([z.number(), z.string(), z.boolean(), z.null()])),
  prediction: z.union([z.number(), z.string()]).nullable(),
  confidence: z.number().nullable(),
  label: z.union([z.number(), z.string()]).nullable(),
});

/** Rows in one export at most (the per-model size limit bounds a dataset too; design §7 retention). */
export const MAX_EXPORT_ROWS = 1_000_000;

const parseJson = (s: string | null): unknown => (s === null ? null : JSON.parse(s));

export function exportLine(model: string, version: string, r: CaptureRowOut): string {
  return JSON.stringify({
    predictionId: r.prediction_id,
    deviceId: r.device_id,
    model,
    version,
    at: new Date(r.at).toISOString(),
    trigger: r.cause,
    features: JSON.parse(r.features),
    prediction: parseJson(r.prediction),
    confidence: r.confidence,
    label: parseJson(r.label),
  });
}

export function datasetRoutes(deps: Pick<ApiDeps, 'ctx'>): ApiRoutes {
  const { ctx } = deps;
  const { store } = ctx;
  const { app, docs, route } = apiRoutes();

  route({ method: 'get', path: '/datasets', summary: 'Captured field data per model version, and recent exports', role: 'viewer', responses: { 200: DatasetList } }, async (_c, io) => {
    const iso = (t: number | null) => (t === null ? null : new Date(Number(t)).toISOString());
    const datasets = (await store.captures.summaries()).map((d) => ({ model: d.model, version: d.version, rows: d.n, labelled: d.labelled, bytes: d.bytes, first: iso(d.first), last: iso(d.last) }));
    const exports = (await store.captures.exports(50)).map((e) => ({ ...e, filters: JSON.parse(e.filters) as z.infer<typeof DatasetExportRecord>['filters'] }));
    return io.json(200, { datasets, exports });
  });

  route(
    {
      method: 'post',
      path: '/datasets/:model/:version/export',
      params: { model: ModelName, version: SemVer },
      summary: 'Export captured rows of a model version as JSON Lines; the sha256 of the body is recorded and audited',
      role: 'operator',
      body: DatasetExportRequest,
      bodyOptional: true,
      responses: {
        200: {
          description: 'JSON Lines, one DatasetLine per row in capture order; headers x-dataset-sha256 (of the body) and x-dataset-rows',
          schema: z.string(),
          mediaType: 'application/x-ndjson',
        },
        404: { description: 'No captured rows of that model version' },
      },
    },
    async (c, io) => {
      const model = c.req.param('model');
      const version = c.req.param('version');
      const body = (await io.body()) ?? {};
      const tags = body.tag?.length ? parseTagFilters(body.tag) : undefined;
      const filters = { ...(body.since !== undefined ? { since: body.since } : {}), ...(tags ? { tags } : {}), ...(body.labelled ? { labelled: true } : {}) };
      if (!(await store.captures.summaries()).some((d) => d.model === model && d.version === version)) {
        throw new EdgefleetError('NOT_FOUND', `no captured rows of ${model}@${version}`);
      }
      const hash = createHash('sha256');
      const parts: string[] = [];
      let rows = 0;
      let bytes = 0;
      for (let afterId = 0; rows < MAX_EXPORT_ROWS; ) {
        const page = await store.captures.page({ model, version, ...filters, afterId, limit: Math.min(1000, MAX_EXPORT_ROWS - rows) });
        if (page.length === 0) break;
        for (const r of page) {
          const line = `${exportLine(model, version, r)}\n`;
          hash.update(line);
          parts.push(line);
          bytes += Buffer.byteLength(line);
        }
        rows += page.length;
        afterId = page[page.length - 1]!.id;
      }
      const sha256 = hash.digest('hex');
      const who = actor(principal(c));
      const at = ctx.now().toISOString();
      await store.transaction(async () => {
        await store.captures.recordExport({ sha256, model, version, filters: JSON.stringify(filters), rows, bytes, at, actor: who });
        await store.appendAudit(who, 'dataset.export', { model, version, sha256, rows, bytes, filters });
      });
      return c.body(parts.join(''), 200, { 'content-type': 'application/x-ndjson', 'x-dataset-sha256': sha256, 'x-dataset-rows': String(rows) });
    },
  );

  return { app, docs };
}

// the store's view types are what clients are typed with: the schemas must accept exactly them
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const sameList: Same<z.infer<typeof DatasetList>, DatasetListView> = true;
const sameRequest: Same<z.infer<typeof DatasetExportRequest>, DatasetExportRequestBody> = true;
void sameList, void sameRequest;
