// The desired-state outbox (design §3, §8). Any replica signs and stores a desired state in the transaction
// that causes it; only the leader publishes, from the store: each device's stored state while its sequence is
// ahead of the one last published, then it records what it published. One pass at a time, so per device the
// broker only ever gets the newest stored state after an older one — a device never sees its sequences go
// back, whichever replica issued them. A replica that writes wakes the leader's pass at once when it is the
// leader; other replicas' writes wake it through the store's change notices (or the poll).
//
// A leader frozen mid-publish (SIGSTOP) can resume after another took over and send an older state over a
// newer one's retained message: it then finds the newer publish recorded and publishes the stored (newest)
// state again. Devices refuse the older sequence in between (design §3); the retained message ends right.

import type { HubContext } from '../context.js';
import { CHANGE_TOPICS } from '../store/index.js';

export interface DesiredOutbox {
  /**
   * Publishes what is stored and not yet published, if this replica leads; resolves when everything
   * committed before the call is out, or failed (logged; it stays stored and the poll tries again). Never rejects.
   */
  drain(): Promise<void>;
  /** Runs `task` between passes (republishing every state must not interleave a pass). */
  exclusive<T>(task: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface DesiredOutboxOptions {
  leading: () => boolean;
  /** Publishes one stored state (retained, QoS 1); resolves once the broker has it. */
  publish: (deviceId: string, envelope: string, sequence: number) => Promise<void>;
  /** How often the leader looks for states without a notice (default 1 s). */
  pollMs?: number;
}

/** States published per step: each step is one read, the publishes, and one write of what went out. */
const BATCH = 250;

export function createDesiredOutbox(ctx: HubContext, o: DesiredOutboxOptions): DesiredOutbox {
  const { store } = ctx;
  let chain: Promise<void> = Promise.resolve();
  let queued: Promise<void> | null = null;
  let closed = false;

  const exclusive = <T>(task: () => Promise<T>): Promise<T> => {
    const run = chain.then(task);
    chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  };

  const pass = async (): Promise<void> => {
    while (o.leading() && !closed) {
      const rows = await store.unpublishedDesired(BATCH);
      if (rows.length === 0) return;
      const settled = await Promise.allSettled(rows.map((r) => o.publish(r.deviceId, r.envelope, r.sequence)));
      const sent = rows.filter((_, i) => settled[i]!.status === 'fulfilled').map((r) => ({ deviceId: r.deviceId, sequence: r.sequence }));
      const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed) ctx.log(`desired-state outbox: ${rows.length - sent.length} not published (${String(failed.reason)}); tried again on the next poll`);
      if (sent.length === 0) return;
      for (const deviceId of await store.markDesiredPublished(sent)) {
        const newest = await store.getDesired(deviceId);
        if (newest) await o.publish(deviceId, newest.envelope, newest.sequence);
      }
      if (failed || rows.length < BATCH) return;
      await new Promise((r) => setImmediate(r)); // a wave to thousands of devices does not stall the broker
    }
  };

  const drain = (): Promise<void> => {
    if (closed || !o.leading()) return Promise.resolve();
    // a pass not yet started sees everything committed before this call: share it
    queued ??= exclusive(() => {
      queued = null;
      return pass();
    }).catch((err: unknown) => ctx.log(`desired-state outbox: ${String(err)}`)); // stored: the poll tries again
    return queued;
  };

  // another replica's stored state reaches the leader as a change notice (LISTEN/NOTIFY); the poll is the
  // fallback for a notice lost while the listener reconnected, and retries a publish the broker refused
  const unsubscribe = store.changes.subscribe(CHANGE_TOPICS.desired, () => void drain());
  const poll = setInterval(() => void drain(), o.pollMs ?? 1000);
  poll.unref();

  return {
    drain,
    exclusive,
    async close() {
      closed = true;
      unsubscribe();
      clearInterval(poll);
      await chain;
    },
  };
}
