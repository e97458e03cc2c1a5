// The dashboard's read routes (design §6, §7): GET /api/v1/health (one model version's merged telemetry),
// /api/v1/health/groups (the same sliced by a tag or per device), /api/v1/tags (what to group by),
// /api/v1/health/overview (the fleet at a glance) and /api/v1/whoami. The domain is telemetry/health.ts.

import { z } from 'zod';
import { DeviceId, EdgefleetError, ModelName, SemVer } from '@edgefleet/protocol';
import { ROLLUP_MS, computeHealth, computeHealthGroups, fleetOverview, tagIndex } from '../../telemetry/index.js';
import { principal } from '../guard.js';
import { apiRoutes, type ApiDeps, type ApiRoutes } from '../api-routes.js';
import { FleetOverview, HealthGroups, HealthReport, TagIndex, WhoAmI } from '../schemas.js';

/** At most this many buckets per series: a longer range gets wider buckets. */
const MAX_BUCKETS = 1440;
const DEFAULT_RANGE_MS = 3_600_000;

/** One `tag=key=value` filter (design §7 target syntax). */
export const TagFilter = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}=.{0,128}$/, 'tag filters are key=value');
const Millis = z.coerce.number().int().min(0);
const HealthQuery = z.object({
  model: ModelName,
  version: SemVer,
  tag: z.array(TagFilter).optional().describe('key=value; repeat for several (a device group)'),
  device: DeviceId.optional(),
  role: z.enum(['active', 'shadow']).optional(),
  from: Millis.optional().describe('epoch ms; default an hour before `to`'),
  to: Millis.optional().describe('epoch ms; default now'),
  bucketMs: z.coerce.number().int().min(ROLLUP_MS).optional().describe('series bucket; widened to keep at most 1440 buckets'),
});
const HealthGroupsQuery = z.object({
  model: ModelName,
  version: SemVer,
  by: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a tag key').optional().describe('a tag key: one group per value (devices without it: value null)'),
  perDevice: z.enum(['true', 'false']).optional().describe('true: one group per device (instead of `by`)'),
  tag: HealthQuery.shape.tag,
  role: HealthQuery.shape.role,
  from: HealthQuery.shape.from,
  to: HealthQuery.shape.to,
});
const OverviewQuery = z.object({
  silentMinutes: z.coerce.number().positive().max(525_600).default(15).describe('a device silent this long counts as silent'),
  minutes: z.coerce.number().positive().max(10_080).default(60).describe('the window of health and drift alarms'),
  events: z.coerce.number().int().min(1).max(200).default(20).describe('how many recent events and actions'),
});

/** Parses `tag=k=v` query values into a tag map (design §7 target syntax). */
export function parseTagFilters(values: readonly string[]): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const raw of values) {
    const r = TagFilter.safeParse(raw);
    if (!r.success) throw new EdgefleetError('BAD_INPUT', `bad tag filter ${JSON.stringify(raw)}: use key=value`);
    const i = raw.indexOf('=');
    tags[raw.slice(0, i)] = raw.slice(i + 1);
  }
  return tags;
}

/** `from`/`to` of a health query: an hour up to now unless given; BAD_INPUT unless from < to. */
function timeRange(p: { from?: number | undefined; to?: number | undefined }, now: number): { from: number; to: number } {
  const to = p.to ?? now;
  const from = p.from ?? to - DEFAULT_RANGE_MS;
  if (!(from < to)) throw new EdgefleetError('BAD_INPUT', 'from must be before to');
  return { from, to };
}

/** GET /health (one model version's merged telemetry), /health/groups, /tags, /health/overview and /whoami: viewer role, from the guard's table. */
export function healthRoutes(deps: Pick<ApiDeps, 'ctx'>): ApiRoutes {
  const { ctx } = deps;
  const { app, docs, route } = apiRoutes();

  route({ method: 'get', path: '/whoami', summary: 'The caller’s token id and role', role: 'viewer', responses: { 200: WhoAmI } }, (c, io) => {
    const p = principal(c);
    return io.json(200, { id: p.id, kind: p.kind, role: p.role });
  });

  route({ method: 'get', path: '/health/overview', summary: 'Fleet at a glance for the dashboard: verdict, devices, events, rollout actions, drift alarms', role: 'viewer', query: OverviewQuery, responses: { 200: FleetOverview } }, async (_c, io) => {
    return io.json(200, await fleetOverview(ctx, io.query()));
  });

  route({ method: 'get', path: '/tags', summary: 'Tag keys with their values and device counts: what health can be grouped by', role: 'viewer', responses: { 200: TagIndex } }, async (_c, io) => {
    return io.json(200, await tagIndex(ctx));
  });

  route(
    {
      method: 'get',
      path: '/health/groups',
      summary: 'One model version’s health per tag value (or per device): devices, error rate, latency, worst drift, accuracy',
      role: 'viewer',
      query: HealthGroupsQuery,
      responses: { 200: HealthGroups },
    },
    async (_c, io) => {
      const p = io.query();
      const perDevice = p.perDevice === 'true';
      if (perDevice === (p.by !== undefined)) throw new EdgefleetError('BAD_INPUT', 'give exactly one of by=TAG_KEY or perDevice=true');
      const { from, to } = timeRange(p, ctx.now().getTime());
      const tags = p.tag?.length ? parseTagFilters(p.tag) : undefined;
      return io.json(200, await computeHealthGroups(ctx, { model: p.model, version: p.version, by: p.by ?? null, from, to, ...(tags ? { tags } : {}), ...(p.role ? { role: p.role } : {}) }));
    },
  );

  route(
    { method: 'get', path: '/health', summary: 'One model version’s health: latency, errors, accuracy, drift, prediction mix', role: 'viewer', query: HealthQuery, responses: { 200: HealthReport } },
    async (_c, io) => {
      const p = io.query();
      const { from, to } = timeRange(p, ctx.now().getTime());
      let bucketMs = p.bucketMs ?? ROLLUP_MS;
      // keep a series bounded: widen buckets (whole minutes) rather than refuse a long range
      if ((to - from) / bucketMs > MAX_BUCKETS) bucketMs = Math.ceil((to - from) / MAX_BUCKETS / ROLLUP_MS) * ROLLUP_MS;
      const tags = p.tag?.length ? parseTagFilters(p.tag) : undefined;
      return io.json(
        200,
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
    },
  );

  return { app, docs };
}
