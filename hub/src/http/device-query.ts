// Query-string parsing of the device list's filter and paging; the query itself is store/device-query.ts.

import { z } from 'zod';
import { EdgefleetError, ModelName, ModelState } from '@edgefleet/protocol';
import type { DeviceFilter } from '../store/device-query.js';
import { parseTagFilters } from './routes/health.js';

export type { DeviceFilter } from '../store/device-query.js';

export const MAX_PAGE = 500;

const Query = z.object({
  model: ModelName.optional(),
  version: z.string().max(64).optional(),
  state: ModelState.optional(),
  online: z.enum(['true', 'false']).optional(),
  silentMinutes: z.coerce.number().positive().max(525_600).optional(),
  q: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(0).max(MAX_PAGE),
  offset: z.coerce.number().int().min(0).default(0),
});

/** Parses `?tag=k=v&model=&version=&state=&online=&silentMinutes=&q=&limit=&offset=` (empty values mean "any"). */
export function parseDeviceFilter(query: Record<string, string>, tagValues: readonly string[]): DeviceFilter {
  const present = Object.fromEntries(Object.entries(query).filter(([k, v]) => v !== '' && k !== 'tag'));
  const r = Query.safeParse(present);
  if (!r.success) {
    throw new EdgefleetError('BAD_INPUT', r.error.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`).join('; '));
  }
  const p = r.data;
  const tags = tagValues.filter((t) => t !== '');
  return {
    limit: p.limit,
    offset: p.offset,
    ...(tags.length ? { tags: parseTagFilters(tags) } : {}),
    ...(p.model ? { model: p.model } : {}),
    ...(p.version ? { version: p.version } : {}),
    ...(p.state ? { state: p.state } : {}),
    ...(p.online ? { online: p.online === 'true' } : {}),
    ...(p.silentMinutes ? { silentMinutes: p.silentMinutes } : {}),
    ...(p.q ? { q: p.q } : {}),
  };
}
