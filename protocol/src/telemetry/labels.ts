// Label summaries from feedback (design §6): labelled and correct counts plus sparse confusion
// counts, kept sorted by (predicted, actual) so equal data always gives equal JSON.

import { TELEMETRY_LIMITS } from '../limits.js';
import type { LabelSummary } from './schemas.js';

export function createLabelSummary(): LabelSummary {
  return { labelled: 0, correct: 0, confusion: [] };
}

/** Position of (p, a) in the sorted confusion list, or where it would be inserted. */
function find(confusion: LabelSummary['confusion'], p: number, a: number): { at: number; found: boolean } {
  let lo = 0;
  let hi = confusion.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const [mp, ma] = confusion[mid]!;
    if (mp < p || (mp === p && ma < a)) lo = mid + 1;
    else hi = mid;
  }
  const hit = confusion[lo];
  return { at: lo, found: hit !== undefined && hit[0] === p && hit[1] === a };
}

/** Counts one labelled prediction (class indices; mutates and returns `s`). */
export function labelAdd(s: LabelSummary, predicted: number, actual: number, count = 1): LabelSummary {
  if (!(count > 0)) return s;
  s.labelled += count;
  if (predicted === actual) s.correct += count;
  const { at, found } = find(s.confusion, predicted, actual);
  if (found) s.confusion[at]![2] += count;
  else s.confusion.splice(at, 0, [predicted, actual, count]);
  return s;
}

/**
 * A new summary adding both. `labelled` and `correct` add exactly; the sparse confusion keeps at most
 * TELEMETRY_LIMITS.confusion entries (the largest counts, ties to the lower key), so merging many windows
 * cannot grow it without bound.
 */
export function mergeLabelSummary(a: LabelSummary, b: LabelSummary): LabelSummary {
  const out = mergeSorted(a, b);
  if (out.confusion.length > TELEMETRY_LIMITS.confusion) out.confusion = largest(out.confusion, TELEMETRY_LIMITS.confusion);
  return out;
}

/** The `n` entries with the largest counts, still sorted by (predicted, actual). */
function largest(confusion: LabelSummary['confusion'], n: number): LabelSummary['confusion'] {
  const order = confusion.map((_, i) => i).sort((x, y) => confusion[y]![2] - confusion[x]![2] || x - y);
  return order
    .slice(0, n)
    .sort((x, y) => x - y)
    .map((i) => confusion[i]!);
}

function mergeSorted(a: LabelSummary, b: LabelSummary): LabelSummary {
  const out: LabelSummary = { labelled: a.labelled + b.labelled, correct: a.correct + b.correct, confusion: [] };
  // merge two sorted lists
  let i = 0;
  let j = 0;
  const ca = a.confusion;
  const cb = b.confusion;
  while (i < ca.length || j < cb.length) {
    const x = ca[i];
    const y = cb[j];
    if (y === undefined || (x !== undefined && (x[0] < y[0] || (x[0] === y[0] && x[1] < y[1])))) {
      out.confusion.push([x![0], x![1], x![2]]);
      i++;
    } else if (x === undefined || x[0] !== y[0] || x[1] !== y[1]) {
      out.confusion.push([y[0], y[1], y[2]]);
      j++;
    } else {
      out.confusion.push([x[0], x[1], x[2] + y[2]]);
      i++;
      j++;
    }
  }
  return out;
}
