// Query-string parsing of the device list's filter and paging; the query itself is store/device-query.ts.

import { z } from 'zod';
import { ModelName, ModelState } from '@edgefleet/protocol';
import type { DeviceFilter } from '../store/device-query.js';
import { TagFilter, parseTagFilters } from './routes/health.js';

export type { DeviceFilter } from '../store/device-query.js';

export const MAX_PAGE = 500;

/** `?tag=k=v&model=&version=&state=&online=&silentMinutes=&q=&limit=&offset=` (empty values mean "any"); `limit` asks for a page. */
export const DeviceListQuery = z.object({
  tag: z.array(TagFilter).optional().describe('key=value; repeat for several (all must match)'),
  model: ModelName.optional(),
  version: z.string().max(64).optional(),
  state: ModelState.optional(),
  online: z.enum(['true', 'false']).optional(),
  silentMinutes: z.coerce.number().positive().max(525_600).optional(),
  q: z.string().max(64).optional().describe('device id contains'),
  limit: z.coerce.number().int().min(0).max(MAX_PAGE).optional().describe('a page of at most this many, with the total'),
  offset: z.coerce.number().int().min(0).default(0),
});
export type DeviceListQuery = z.output<typeof DeviceListQuery>;

/** The store's filter of a parsed device-list query that asks for a page. */
export function deviceFilter(p: DeviceListQuery & { limit: number }): DeviceFilter {
  return {
    limit: p.limit,
    offset: p.offset,
    ...(p.tag?.length ? { tags: parseTagFilters(p.tag) } : {}),
    ...(p.model ? { model: p.model } : {}),
    ...(p.version ? { version: p.version } : {}),
    ...(p.state ? { state: p.state } : {}),
    ...(p.online ? { online: p.online === 'true' } : {}),
    ...(p.silentMinutes ? { silentMinutes: p.silentMinutes } : {}),
    ...(p.q ? { q: p.q } : {}),
  };
}
