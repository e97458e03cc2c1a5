// Pieces the telemetry schemas share (design §6): the bounded count, and refinements from the checks the hub's
// fast path calls too (bounds.ts, histogramIssue), so zod and the fast path accept exactly the same windows.

import * as z from 'zod';
import { TELEMETRY_LIMITS } from '../limits.js';

/** Any count in one window: bounded (TELEMETRY_LIMITS.count), so sums over many windows stay exact. */
export const Count = z.number().int().min(0).max(TELEMETRY_LIMITS.count);

/** A refinement from a `…Issue` check: the same function the hub's fast path calls. */
export const refineWith =
  <T>(issue: (v: T) => string | null) =>
  (v: T, ctx: z.RefinementCtx) => {
    const message = issue(v);
    if (message !== null) ctx.addIssue({ code: 'custom', message });
  };
