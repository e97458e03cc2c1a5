// One-time enrolment (devices/enrolment.ts): an operator makes a link for a device; the device page trades
// its code, once, for the agent config. Redemption needs no token (the code is the credential), so its body
// is capped small and its attempts are limited per source address: codes cannot be guessed by brute force.

import type { Context } from 'hono';
import { z } from 'zod';
import { DeviceId, EdgefleetError, parseDuration } from '@edgefleet/protocol';
import { createKeyedRateLimit, type RateLimit } from '../../telemetry/index.js';
import { actor } from '../auth.js';
import { principal } from '../guard.js';
import { apiRoutes, type ApiDeps, type ApiRoutes } from '../api-routes.js';
import { Enrolled, EnrolmentLink } from '../schemas.js';

export const EnrolmentCreate = z.object({
  /** "15m", "1h", or milliseconds; 1 min to 24 h (default 15 min). */
  ttl: z.union([z.string().max(16), z.number().int().min(0)]).optional(),
});
export const EnrolmentRedeem = z.object({ code: z.string().max(128) });

/** A redemption body is `{ "code": "<43 chars>" }`: anything much larger is not one. */
export const ENROL_BODY_MAX = 1024;
/** Per source address: 10 attempts at once, then one every 30 s. */
export const ENROL_RATE_LIMIT: RateLimit = { burst: 10, perSecond: 1 / 30 };

/** The TCP peer (behind a reverse proxy: the proxy, one bucket for all; forwarded headers are not trusted). */
function sourceAddress(c: Context): string {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? 'unknown';
}

export function enrolmentRoutes(deps: Pick<ApiDeps, 'ctx' | 'devices'>): ApiRoutes {
  const { ctx, devices } = deps;
  const { app, docs, route } = apiRoutes();
  const attempts = createKeyedRateLimit(ENROL_RATE_LIMIT, { maxBuckets: 10_000, now: () => ctx.now().getTime() });

  route(
    {
      method: 'post',
      path: '/devices/:id/enrolment',
      params: { id: DeviceId },
      summary: 'A one-time enrolment link for the device (its code shown once; 15 min unless `ttl`)',
      role: 'operator',
      body: EnrolmentCreate,
      bodyOptional: true,
      responses: { 201: EnrolmentLink },
    },
    async (c, io) => {
      const body = (await io.body()) ?? {};
      const ttlMs = typeof body.ttl === 'string' ? parseDuration(body.ttl) : body.ttl;
      if (ttlMs === null) throw new EdgefleetError('BAD_INPUT', `ttl: not a duration (15m, 1h): ${JSON.stringify(body.ttl)}`);
      const link = await devices.enrol(c.req.param('id'), ttlMs === undefined ? {} : { ttlMs }, actor(principal(c)));
      c.header('cache-control', 'no-store');
      return io.json(201, link);
    },
  );

  route(
    {
      method: 'post',
      path: '/enrol',
      summary: 'Redeem a one-time enrolment code: the device’s agent config with a new token',
      role: 'none',
      body: EnrolmentRedeem,
      bodyMax: ENROL_BODY_MAX,
      responses: { 200: Enrolled, 404: { description: 'NOT_FOUND: a malformed, unknown, used or expired code' }, 429: { description: 'RATE_LIMITED: too many attempts from this address' } },
    },
    async (c, io) => {
      if (!attempts.take(sourceAddress(c))) {
        ctx.metrics.inc('edgefleet_enrolment_redemptions_total', { outcome: 'rate-limited' });
        throw new EdgefleetError('RATE_LIMITED', 'too many enrolment attempts from this address: try again in a minute');
      }
      const { code } = await io.body();
      const enrolled = await devices.redeem(code);
      c.header('cache-control', 'no-store');
      return io.json(200, enrolled);
    },
  );

  return { app, docs };
}
