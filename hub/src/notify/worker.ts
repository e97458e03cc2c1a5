// The webhook delivery workers of one replica (design §7, §8): claim due rows of the outbox (any replica's,
// store/webhook-outbox.ts) under a lease, attempt each (delivery.ts), and settle it with its delivery-log row:
// gone when delivered or given up, due again after a backoff for a retry. Woken by the outbox's change notice
// (rows added on any replica), by a timer at the next retry, and by a poll (a missed notice, a dead
// claimer's lease running out). Closing aborts what is in flight after a grace period; those rows stay in
// the outbox, due at once, for another replica or the next start.

import { AsyncResource } from 'node:async_hooks';
import type { OutboxCounts, OutboxRow, UnsealedRow } from '../store/webhook-outbox.js';
import type { WebhookOutbox } from '../store/webhooks.js';
import { backoff, delivered, postDelivery, retryable, type RetryPolicy } from './delivery.js';

export interface DeliveryWorkerOptions {
  outbox: WebhookOutbox;
  /** Who claims (`claimed_by`): the replica and this process's run. */
  claimer: string;
  seal: (r: UnsealedRow) => { body: string; signature: string };
  fetch: typeof fetch;
  retry: Required<RetryPolicy>;
  concurrency: number;
  timeoutMs: number;
  /** How long a claim holds (longer than an attempt can take); a dead claimer's rows are claimed again after it. */
  leaseMs: number;
  pollMs: number;
  closeWaitMs: number;
  keepDeliveries: number;
  trimDeliveries: (keep: number) => Promise<void>;
  now: () => Date;
  log: (line: string) => void;
}

export interface DeliveryWorker {
  wake(): void;
  /** Read the outbox's counts again (and schedule the next wake-up from them). */
  refresh(): Promise<OutboxCounts>;
  /** As last read. */
  counts(): OutboxCounts;
  inFlight(): number;
  /** Resolves when the outbox is empty (every replica's rows) and nothing is in flight here. */
  idle(): Promise<void>;
  close(): Promise<void>;
  readonly outcomes: { delivered: number; failed: number; abandoned: number };
}

const EMPTY: OutboxCounts = { fleet: 0, device: 0, mine: 0, claimed: 0, due: 0, waiting: 0, nextAt: null };

export function createDeliveryWorker(o: DeliveryWorkerOptions): DeliveryWorker {
  // the loop runs in the async context the worker was made in, never in a caller's transaction
  const detached = new AsyncResource('edgefleet-webhook-worker');
  const inFlight = new Map<Promise<void>, AbortController>();
  const outcomes = { delivered: 0, failed: 0, abandoned: 0 };
  let last: OutboxCounts = EMPTY;
  let closing = false;
  let claiming: Promise<void> | null = null;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  let timerAt = Infinity;
  let waiters: Array<() => void> = [];
  let settleTail: Promise<unknown> = Promise.resolve();

  const poke = () => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };

  const refresh = async (): Promise<OutboxCounts> => {
    const c = await o.outbox.counts(o.claimer, Date.now());
    last = c;
    // a retry coming due: wake then (other replicas' retries too)
    if (!closing && c.nextAt !== null && c.nextAt < timerAt) {
      clearTimeout(timer);
      timerAt = c.nextAt;
      timer = setTimeout(() => {
        timerAt = Infinity;
        wake();
      }, Math.max(0, c.nextAt - Date.now()) + 5);
      timer.unref?.();
    }
    poke();
    return c;
  };

  /** One attempt and its settlement; the log rows of one replica go in the order the attempts ended. */
  const attempt = async (r: OutboxRow, controller: AbortController): Promise<void> => {
    const startedAt = o.now().toISOString();
    const { status, error } = await postDelivery(o.fetch, r, controller, o.timeoutMs);
    let retryAt: number | null = null;
    let text: string | null = null;
    if (delivered(status)) outcomes.delivered++;
    else {
      const worth = retryable(status);
      const httpText = status === null ? (error ?? 'no response') : `HTTP ${status}`;
      if (controller.signal.aborted && closing) outcomes.abandoned++;
      if (worth && r.attempt < o.retry.attempts) {
        // cut short by this hub closing: due at once, for another replica or the next start
        const delay = closing ? 0 : backoff(o.retry, r.attempt);
        retryAt = Date.now() + delay;
        text = `${httpText}; retry ${r.attempt + 1}/${o.retry.attempts} in ${delay} ms`;
      } else {
        const why = !worth ? 'not retried (client error)' : `gave up after ${r.attempt} attempts`;
        text = `${httpText}; ${why}`;
        outcomes.failed++;
        o.log(`webhook ${r.event} to ${r.url}: ${httpText}; ${why}`);
      }
    }
    const row = { deliveryId: r.deliveryId, eventId: r.eventId, event: r.event, url: r.url, attempt: r.attempt, status, error: text, startedAt, finishedAt: o.now().toISOString() };
    const p = settleTail.then(async () => {
      const id = await o.outbox.settle(r.deliveryId, o.claimer, retryAt, row);
      // the log is bounded: now and then the oldest attempts beyond `keepDeliveries` go
      if (id % Math.min(1000, o.keepDeliveries) === 0) await o.trimDeliveries(o.keepDeliveries);
    });
    settleTail = p.catch(() => undefined);
    // the database is closed or busy: the row stays claimed until its lease ends, then it is attempted again
    await p.catch((err: unknown) => o.log(`webhook log ${r.deliveryId}: ${String(err)}`));
  };

  const start = (r: OutboxRow) => {
    const controller = new AbortController();
    const p: Promise<void> = attempt(r, controller)
      .catch((err: unknown) => o.log(`webhook ${r.deliveryId}: ${String(err)}`))
      .finally(() => {
        inFlight.delete(p);
        wake();
      });
    inFlight.set(p, controller);
  };

  const loop = async (): Promise<void> => {
    do {
      again = false;
      const free = o.concurrency - inFlight.size;
      if (free > 0 && !closing) {
        const rows = await o.outbox.claim(o.claimer, Date.now(), o.leaseMs, free, o.seal).catch((err: unknown) => {
          o.log(`webhook outbox: ${String(err)}`);
          return [];
        });
        for (const r of rows) start(r);
      }
      await refresh().catch(() => undefined);
    } while (again && !closing);
  };

  function wake(): void {
    if (claiming) {
      again = true;
      return;
    }
    claiming = detached.runInAsyncScope(() => loop()).finally(() => {
      claiming = null;
      poke();
    });
  }

  // a read, not a claim (which writes): claim only when something is due, e.g. a dead claimer's lease ran out
  const poll = setInterval(() => {
    if (closing || claiming) return;
    void detached
      .runInAsyncScope(refresh)
      .then((c) => c.due > 0 && !closing && wake())
      .catch(() => undefined);
  }, o.pollMs);
  poll.unref?.();

  const drained = async () => {
    while (claiming || inFlight.size > 0) await Promise.allSettled([claiming, ...inFlight.keys()]);
    await settleTail;
  };

  return {
    wake: () => {
      if (!closing) wake();
    },
    refresh: () => detached.runInAsyncScope(refresh),
    counts: () => last,
    inFlight: () => inFlight.size,
    outcomes,
    async idle() {
      for (;;) {
        await drained();
        const c = await detached.runInAsyncScope(refresh).catch(() => EMPTY);
        if (closing || (c.fleet + c.device === 0 && inFlight.size === 0 && !claiming)) return;
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 100).unref?.();
        });
      }
    },
    async close() {
      if (closing) return;
      closing = true;
      clearInterval(poll);
      clearTimeout(timer);
      await claiming;
      if (inFlight.size > 0) {
        let t: NodeJS.Timeout | undefined;
        await Promise.race([Promise.allSettled([...inFlight.keys()]), new Promise<void>((r) => (t = setTimeout(r, o.closeWaitMs)))]);
        clearTimeout(t);
      }
      for (const c of inFlight.values()) c.abort(new Error('aborted: hub closing'));
      await drained();
    },
  };
}
