// Which of two reported states of one device is newer, by the device's own order (design §8: with shared
// subscriptions two replicas may take a device's reports in either order; arrival says nothing). A pure
// function: ingest applies a report only when it is newer than the stored one.
//
// The report carries no sequence of its own. It carries `desiredSequence` (the last desired state the
// device applied: never decreases, design §3, and survives a device's clock being stepped back) and `at`
// (the device's clock when it made the report). Order: desiredSequence, then `at`. Equal on both: taken
// (an agent can make two reports in one millisecond, and on one subscription they arrive in its order; a
// repeat of the stored report changes nothing). A device whose clock steps back has its
// reports for the current desired state held until its clock passes the stored `at` again, or until it
// applies the next desired state.
// The check is only as good as its read: ingest reads the stored report and writes the new one in one
// transaction, which SQLite serializes; where two replicas' transactions run at once (PostgreSQL) that read
// must lock the device row (SELECT … FOR UPDATE), or a slower replica can still write an older report last.

import type { ReportedState } from '@edgefleet/protocol';

/** The order key of a report; null for something that is not one (a row written before, or a foreign body). */
function orderKey(report: unknown): { seq: number; at: number } | null {
  if (typeof report !== 'object' || report === null) return null;
  const { desiredSequence, at } = report as { desiredSequence?: unknown; at?: unknown };
  if (typeof desiredSequence !== 'number' || typeof at !== 'string') return null;
  const t = Date.parse(at);
  return Number.isFinite(t) ? { seq: desiredSequence, at: t } : null;
}

/** True when `incoming` should replace `stored` (the stored reported state as it was parsed from the store). */
export function isNewerReport(stored: unknown, incoming: Pick<ReportedState, 'desiredSequence' | 'at'>): boolean {
  const old = orderKey(stored);
  if (!old) return true; // nothing comparable stored: the first report wins
  const next = orderKey(incoming);
  if (!next) return false;
  if (next.seq !== old.seq) return next.seq > old.seq;
  return next.at >= old.at;
}
