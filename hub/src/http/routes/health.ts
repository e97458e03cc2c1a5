// The dashboard's read routes (design §6, §7): GET /api/v1/health (one model version's merged telemetry),
// /api/v1/health/overview (the fleet at a glance) and /api/v1/whoami. The domain is telemetry/health.ts.

import { z } from 'zod';
import { DeviceId, EdgefleetError, ModelName, SemVer } from '@edgefleet/protocol';
import { ROLLUP_MS, computeHealth, fleetOverview } from '../../telemetry/index.js';
import { describe } from '../errors.js';
import { principal } from '../guard.js';
import { apiRoutes, type ApiDeps, type ApiRoutes } from '../api-routes.js';

/** At most this many buckets per series: a longer range gets wider buckets. */
const MAX_BUCKETS = 1440;
const DEFAULT_RANGE_MS = 3_600_000;

const Tag = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}=.{0,128}$/, 'tag filters are key=value');
const Millis = z.coerce.number().int().min(0);
const HealthParams = z.object({
  model: ModelName,
  version: SemVer,
  device: DeviceId.optional(),
  role: z.enum(['active', 'shadow']).optional(),
  from: Millis.optional(),
  to: Millis.optional(),
  bucketMs: z.coerce.number().int().min(ROLLUP_MS).optional(),
});

/** Parses `tag=k=v` query values into a tag map (design §7 target syntax). */
export function parseTagFilters(values: readonly string[]): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const raw of values) {
    const r = Tag.safeParse(raw);
    if (!r.success) throw new EdgefleetError('BAD_INPUT', `bad tag filter ${JSON.stringify(raw)}: use key=value`);
    const i = raw.indexOf('=');
    tags[raw.slice(0, i)] = raw.slice(i + 1);
  }
  return tags;
}

/** GET /health (one model version's merged telemetry), /health/overview and /whoami: viewer role, from the guard's table. */
export function healthRoutes(deps: Pick<ApiDeps, 'ctx'>): ApiRoutes {
  const { ctx } = deps;
  const { app, docs, doc } = apiRoutes();
  // zod issues worded as before: every issue, a top-level one named `query`
  const refusal = (error: z.ZodError) => new EdgefleetError('BAD_INPUT', describe(error, { subject: 'query', max: Infinity }));

  doc({ method: 'get', path: '/whoami', summary: 'The caller’s token id and role', role: 'viewer' });
  app.get('/whoami', async (c) => {
    const p = principal(c);
    return c.json({ id: p.id, kind: p.kind, role: p.role });
  });

  doc({ method: 'get', path: '/health/overview', summary: 'Fleet at a glance for the dashboard (?silentMinutes, ?minutes, ?events)', role: 'viewer' });
  app.get('/health/overview', async (c) => {
    const r = z
      .object({
        silentMinutes: z.coerce.number().positive().max(525_600).default(15),
        minutes: z.coerce.number().positive().max(10_080).default(60),
        events: z.coerce.number().int().min(1).max(200).default(20),
      })
      .safeParse(c.req.query());
    if (!r.success) throw refusal(r.error);
    return c.json(await fleetOverview(ctx, r.data));
  });

  doc({ method: 'get', path: '/health', summary: 'One model version’s health: latency, errors, accuracy, drift, prediction mix (?model, ?version, ?from, ?to, ?tag, ?device, ?role)', role: 'viewer' });
  app.get('/health', async (c) => {
    const query = c.req.query();
    const r = HealthParams.safeParse({ ...query, tag: undefined });
    if (!r.success) throw refusal(r.error);
    const p = r.data;
    const to = p.to ?? ctx.now().getTime();
    const from = p.from ?? to - DEFAULT_RANGE_MS;
    if (!(from < to)) throw new EdgefleetError('BAD_INPUT', 'from must be before to');
    let bucketMs = p.bucketMs ?? ROLLUP_MS;
    // keep a series bounded: widen buckets (whole minutes) rather than refuse a long range
    if ((to - from) / bucketMs > MAX_BUCKETS) bucketMs = Math.ceil((to - from) / MAX_BUCKETS / ROLLUP_MS) * ROLLUP_MS;
    const tagValues = c.req.queries('tag') ?? [];
    const tags = tagValues.length ? parseTagFilters(tagValues) : undefined;
    return c.json(
      await computeHealth(ctx, {
        model: p.model,
        version: p.version,
        from,
        to,
        bucketMs,
        ...(p.device ? { device: p.device } : {}),
        ...(tags ? { tags } : {}),
        ...(p.role ? { role: p.role } : {}),
      }),
    );
  });

  return { app, docs };
}
