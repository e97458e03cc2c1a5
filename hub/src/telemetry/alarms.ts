// Fleet alarms (design §6, §7): a periodic check that raises `drift-alarm` per model version and
// feature and `device-silent` per device, once each until the condition clears (open alarms live in the database; a replica raises one only by inserting its row).

import type { Manifest } from '@edgefleet/protocol';
import type { HubContext } from '../context.js';
import type { Notifier } from '../notify/index.js';
import { driftAlarmDetails } from './drift-alarm.js';
import { driftAlarmKey } from './drift-text.js';
import { computeHealth } from './health.js';
import { ROLLUP_MS } from './ingest.js';

export interface AlarmOptions {
  /** How often the check runs (default 60 s). */
  intervalMs?: number;
  /** Telemetry merged across devices over this period is judged for drift (default 10 min). */
  windowMs?: number;
  /** A device not online and not heard from for longer than this is silent (default 15 min). */
  silentMs?: number;
}

export interface AlarmCheck {
  raised: Array<{ kind: 'drift' | 'silent'; key: string }>;
  cleared: Array<{ kind: 'drift' | 'silent'; key: string }>;
}

export interface Alarms {
  /** Run one check now (the timer calls this); returns what was raised and cleared. */
  check(): Promise<AlarmCheck>;
  /** Stops the timer and waits for a running check. */
  close(): Promise<void>;
}

export const ALARM_DEFAULTS = { intervalMs: 60_000, windowMs: 600_000, silentMs: 900_000 } as const;

export function createAlarms(ctx: HubContext, notifier: Notifier, options: AlarmOptions = {}, leading: () => boolean = () => true): Alarms {
  const { store } = ctx;
  const { fleet, telemetry } = store;
  const intervalMs = options.intervalMs ?? ALARM_DEFAULTS.intervalMs;
  const windowMs = options.windowMs ?? ALARM_DEFAULTS.windowMs;
  const silentMs = options.silentMs ?? ALARM_DEFAULTS.silentMs;
  // a hub that was down heard nothing either: silence counts from this start at the earliest
  const startedAt = ctx.now().getTime();

  const checkDrift = async (now: number, nowIso: string, out: AlarmCheck) => {
    const from = now - windowMs;
    const open = new Map((await fleet.openAlarms('drift')).map((a) => [a.key, a]));
    for (const v of await telemetry.versionsInUse(Math.floor(from / ROLLUP_MS) * ROLLUP_MS)) {
      const row = await store.getModelVersion(v.model, v.version);
      if (!row) continue;
      // the same merge and sample-size-aware decision as the dashboard and the drift gate (design §6):
      // no verdict on too little data, so small windows neither raise nor clear an alarm
      const range = { from, to: now + 1, bucketMs: windowMs + ROLLUP_MS };
      const h = await computeHealth(ctx, { model: v.model, version: v.version, ...range });
      for (const d of h.drift) {
        const key = driftAlarmKey(v.model, v.version, d.feature);
        const stats = {
          model: v.model,
          version: v.version,
          feature: d.feature,
          psi: d.psi,
          js: d.js,
          ks: d.ks,
          critical: d.critical,
          n: d.n,
          from: new Date(from).toISOString(),
          to: nowIso,
        };
        if (d.verdict === 'drift' && !open.has(key)) {
          // where, what, how far over and how much it matters (drift-alarm.ts), read before the claim
          const details = await driftAlarmDetails(ctx, JSON.parse(row.manifest) as Manifest, d, range);
          // raised once over all replicas: the alarm's row is the claim
          // raised, audited and its webhook deliveries queued in one transaction: a crash loses none of them
          const raised = await store.transaction(async () => {
            if (!(await fleet.raiseAlarm(key, 'drift', nowIso, JSON.stringify(details)))) return false;
            await store.appendAudit('hub', 'alarm.drift', details, nowIso);
            await notifier.enqueue('drift-alarm', details);
            return true;
          });
          if (!raised) continue;
          ctx.metrics.inc('edgefleet_drift_alarms_total');
          out.raised.push({ kind: 'drift', key });
        } else if (d.verdict === 'no-drift' && open.has(key)) {
          const cleared = await store.transaction(async () => {
            if ((await fleet.clearAlarm(key)) === 0) return false;
            await store.appendAudit('hub', 'alarm.drift-cleared', stats, nowIso);
            return true;
          });
          if (cleared) out.cleared.push({ kind: 'drift', key });
        }
      }
    }
  };

  const checkSilent = async (now: number, nowIso: string, out: AlarmCheck) => {
    const open = new Map((await fleet.openAlarms('silent')).map((a) => [a.key, a]));
    // a silence ends when the device is online again or was heard from after the alarm's last-seen time
    for (const a of open.values()) {
      const id = a.key.slice('silent:'.length);
      const d = await fleet.deviceSeen(id);
      const since = (JSON.parse(a.details) as { lastSeen?: string }).lastSeen;
      if (!d || d.status === 'online' || d.seen !== since) {
        const cleared = await store.transaction(async () => {
          if ((await fleet.clearAlarm(a.key)) === 0) return false;
          await store.appendAudit('hub', 'alarm.device-silent-cleared', { deviceId: id, removed: !d }, nowIso);
          return true;
        });
        open.delete(a.key);
        if (cleared) out.cleared.push({ kind: 'silent', key: a.key });
      }
    }
    if (now - silentMs < startedAt) return;
    for (const d of await fleet.silentDevices(new Date(now - silentMs).toISOString())) {
      const key = `silent:${d.id}`;
      if (open.has(key)) continue;
      const silentForMs = now - Date.parse(d.seen);
      const details = { deviceId: d.id, status: d.status, lastSeen: d.seen, silentForMs, limitMs: silentMs, tags: JSON.parse(d.tags) as Record<string, string> };
      const raised = await store.transaction(async () => {
        if (!(await fleet.raiseAlarm(key, 'silent', nowIso, JSON.stringify(details)))) return false;
        await store.appendAudit('hub', 'alarm.device-silent', details, nowIso);
        // the dashboard's recent events and the device page read the events table
        await store.insertEvent({
          deviceId: d.id,
          type: 'device-silent',
          model: null,
          version: null,
          code: null,
          message: `not heard from for ${Math.round(silentForMs / 60_000)} min (limit ${Math.round(silentMs / 60_000)} min)`,
          at: nowIso,
          receivedAt: now,
        });
        await notifier.enqueue('device-silent', details);
        return true;
      });
      if (!raised) continue;
      out.raised.push({ kind: 'silent', key });
    }
  };

  const checkNow = async (): Promise<AlarmCheck> => {
    const out: AlarmCheck = { raised: [], cleared: [] };
    if (!leading()) return out; // the leader of several replicas checks for all
    const now = ctx.now().getTime();
    const nowIso = new Date(now).toISOString();
    for (const [name, f] of [['drift', checkDrift], ['silent', checkSilent]] as const) {
      try {
        await f(now, nowIso, out);
      } catch (err) {
        ctx.log(`alarms (${name}): ${String(err)}`);
      }
    }
    return out;
  };
  // one check at a time: the timer's and a caller's do not interleave
  let running: Promise<AlarmCheck> = Promise.resolve({ raised: [], cleared: [] });
  const check = (): Promise<AlarmCheck> => (running = running.then(checkNow, checkNow));

  const timer = setInterval(() => void check(), intervalMs);
  timer.unref();
  return {
    check,
    async close() {
      clearInterval(timer);
      await running.catch(() => undefined);
    },
  };
}
