// Telemetry stored against telemetry acknowledged (design §4 telemetry `confirm`): what each agent sent and had
// confirmed by the hub, from its own counters and, once it stopped, its SQLite outbox file; what the hub
// stored, from the database. The outbox is the only agent path with hub acknowledgements (events and reports
// are done at the broker's PUBACK), so telemetry windows are all there is to count.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { Agent } from '@edgefleet/agent';
import { waitFor } from '../helpers.js';

export interface AgentTelemetry {
  /** Windows moved into the outbox. */
  queued: number;
  /** Windows sent at least once (a resend of a batch counts once). */
  sent: number;
  /** Windows the outbox dropped when full (design §5). */
  dropped: number;
  /** Batches sent (first sends), resent, and removed from the outbox by the hub's `telemetry-confirm`. */
  batches: number;
  resent: number;
  confirmed: number;
}

export function agentTelemetry(agent: Agent): AgentTelemetry {
  const c = agent.core.counters;
  return {
    queued: c.windowsQueued ?? 0,
    sent: c.windowsSent ?? 0,
    dropped: c.outboxDropped ?? 0,
    batches: c.batchesSent ?? 0,
    resent: c.batchesResent ?? 0,
    confirmed: c.batchesConfirmed ?? 0,
  };
}

/** Every window queued was sent and every batch sent was confirmed: the agent's outbox is empty. */
export function drained(t: AgentTelemetry): boolean {
  return t.queued === t.sent && t.confirmed === t.batches;
}

/**
 * Close the agents' windows, push their outboxes, and wait until every batch is confirmed by the hub
 * (the agents re-send unconfirmed ones on their own, after `telemetryConfirmTimeoutMs`).
 */
export async function drainTelemetry(agents: readonly Agent[], timeoutMs = 60_000): Promise<void> {
  await Promise.all(agents.map((a) => a.core.flushTelemetry().catch(() => undefined)));
  await waitFor(() => agents.every((a) => drained(agentTelemetry(a))), 'every agent outbox confirmed', timeoutMs).catch((e: Error) => {
    const open = agents.filter((a) => !drained(agentTelemetry(a))).map((a) => `${a.config.deviceId} ${JSON.stringify(agentTelemetry(a))}`);
    throw new Error(`${e.message}: ${open.join('; ')}`);
  });
}

/** Rows left in a stopped agent's outbox (windows not confirmed) and open batches, read from its SQLite file. */
export function outboxFile(agent: Agent): { windows: number; batches: number } {
  const db = new Database(join(agent.dataDir, 'agent.db'), { readonly: true });
  try {
    const count = (table: string) => (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    return { windows: count('outbox'), batches: count('batches') };
  } finally {
    db.close();
  }
}

export interface StoredTelemetry {
  /** Raw window rows (no unique key: a batch stored twice would show here twice). */
  windows: number;
  /** De-duplication rows, one per (device, seq), and the windows they say they carried. */
  batches: number;
  batchWindows: number;
}

/** Per device, what the hub stored in PostgreSQL. */
export async function storedTelemetry(dbUrl: string): Promise<Map<string, StoredTelemetry>> {
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  try {
    const out = new Map<string, StoredTelemetry>();
    const row = (id: string) => out.get(id) ?? out.set(id, { windows: 0, batches: 0, batchWindows: 0 }).get(id)!;
    for (const r of (await client.query<{ device_id: string; n: string }>('SELECT device_id, COUNT(*) AS n FROM telemetry_windows GROUP BY device_id')).rows) {
      row(r.device_id).windows = Number(r.n);
    }
    const batches = await client.query<{ device_id: string; n: string; w: string }>('SELECT device_id, COUNT(*) AS n, SUM(windows) AS w FROM telemetry_batches GROUP BY device_id');
    for (const r of batches.rows) Object.assign(row(r.device_id), { batches: Number(r.n), batchWindows: Number(r.w) });
    return out;
  } finally {
    await client.end();
  }
}

/**
 * With every agent's outbox empty: each device's stored windows are exactly those it sent, once each, and
 * one de-duplication row per batch. Returns a line per mismatch (empty when all hold).
 */
export async function ledgerMismatches(dbUrl: string, agents: readonly Agent[]): Promise<string[]> {
  const stored = await storedTelemetry(dbUrl);
  const wrong: string[] = [];
  for (const agent of agents) {
    const id = agent.config.deviceId;
    const sent = agentTelemetry(agent);
    const s = stored.get(id) ?? { windows: 0, batches: 0, batchWindows: 0 };
    if (sent.dropped !== 0 || s.windows !== sent.sent || s.batchWindows !== sent.sent || s.batches !== sent.batches) {
      wrong.push(`${id}: sent ${JSON.stringify(sent)}, stored ${JSON.stringify(s)}`);
    }
  }
  return wrong;
}
