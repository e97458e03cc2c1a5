// Consistency and range checks of telemetry summaries (design §6) beyond their JSON shape, shared by the
// zod schemas and the hub's hand-written fast path so both accept exactly the same windows.

import { TELEMETRY_LIMITS } from '../limits.js';
import { confidenceSumsIssue, type ConfidenceSums } from './confidence.js';

// a structural type, not the schema's (which refines with this function: no type cycle)
interface WindowParts {
  start: number;
  end: number;
  features: Readonly<Record<string, { bins: readonly number[]; count: number; sum?: number | undefined; sumSq?: number | undefined; min?: number | null | undefined; max?: number | null | undefined }>>;
  labels?: { labelled: number; correct: number } | undefined;
  shadow?: { compared: number; agreed: number } | undefined;
  outputs?: { confidenceSums?: ConfidenceSums | undefined } | undefined;
}

export interface WindowBounds {
  /** Longest `end − start` (ms), or null for merged windows (rollups span many device windows). */
  spanMs: number | null;
}

/**
 * Why a window's parts do not fit together, or null: start after end, longer than a window can be, more
 * features than a reference names, feature bins that do not add up to the feature count, a feature with only
 * some of its moments, more correct labels than labelled ones, more agreeing shadow comparisons than compared
 * ones, or confidence sums that do not add up (confidence.ts confidenceSumsIssue).
 */
export function windowIssue(w: WindowParts, bounds: WindowBounds = { spanMs: TELEMETRY_LIMITS.spanMs }): string | null {
  if (w.start > w.end) return `window starts (${w.start}) after it ends (${w.end})`;
  if (bounds.spanMs !== null && w.end - w.start > bounds.spanMs) return `window spans ${w.end - w.start} ms, more than ${bounds.spanMs}`;
  let features = 0;
  for (const name in w.features) {
    if (++features > TELEMETRY_LIMITS.features) return `more than ${TELEMETRY_LIMITS.features} features`;
    const f = w.features[name]!;
    let n = 0;
    for (let k = 0; k < f.bins.length; k++) n += f.bins[k]!;
    if (n !== f.count) return `feature ${JSON.stringify(name)}: count ${f.count} is not the sum of its bins (${n})`;
    // schemas.ts FeatureSummary: its moments come all together (a device sent them) or not at all (withheld)
    const moments = (f.sum !== undefined ? 1 : 0) + (f.sumSq !== undefined ? 1 : 0) + (f.min !== undefined ? 1 : 0) + (f.max !== undefined ? 1 : 0);
    if (moments !== 0 && moments !== 4) return `feature ${JSON.stringify(name)}: has ${moments} of its 4 moments (sum, sumSq, min, max: all or none)`;
  }
  if (w.labels && w.labels.correct > w.labels.labelled) return `labels: ${w.labels.correct} correct of ${w.labels.labelled} labelled`;
  if (w.shadow && w.shadow.agreed > w.shadow.compared) return `shadow: ${w.shadow.agreed} agreed of ${w.shadow.compared} compared`;
  const sums = w.outputs?.confidenceSums;
  if (sums) return confidenceSumsIssue(sums);
  return null;
}

/**
 * Why a device window cannot be from now, or null (the hub's ingest check; it needs a clock): it starts more
 * than TELEMETRY_LIMITS.futureSkewMs ahead of `now`, or ends before `now − maxAgeMs` (raw retention: a window
 * that old would be pruned at once, and its de-duplication record may be gone already).
 */
export function windowTimeIssue(w: { start: number; end: number }, now: number, maxAgeMs: number): string | null {
  if (w.start > now + TELEMETRY_LIMITS.futureSkewMs) return `window starts ${w.start - now} ms in the future`;
  if (w.end < now - maxAgeMs) return `window ended ${now - w.end} ms ago, longer than the ${maxAgeMs} ms kept`;
  return null;
}
