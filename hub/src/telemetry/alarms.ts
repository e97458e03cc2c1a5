// Fleet alarms (design §6, §7): a periodic check that raises `drift-alarm` per model version and
// feature and `device-silent` per device, once each until the condition clears (open alarms live in SQLite).

import type { HubContext } from '../context.js';
import type { Notifier } from '../notify/index.js';
import { createFleetSql } from '../store/fleet.js';
import { createTelemetrySql } from '../store/telemetry.js';
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
  check(): AlarmCheck;
  close(): void;
}

export const ALARM_DEFAULTS = { intervalMs: 60_000, windowMs: 600_000, silentMs: 900_000 } as const;

export function createAlarms(ctx: HubContext, notifier: Notifier, options: AlarmOptions = {}): Alarms {
  const { store } = ctx;
  const fleet = createFleetSql(store);
  const telemetry = createTelemetrySql(store);
  const intervalMs = options.intervalMs ?? ALARM_DEFAULTS.intervalMs;
  const windowMs = options.windowMs ?? ALARM_DEFAULTS.windowMs;
  const silentMs = options.silentMs ?? ALARM_DEFAULTS.silentMs;
  // a hub that was down heard nothing either: silence counts from this start at the earliest
  const startedAt = ctx.now().getTime();

  const checkDrift = (now: number, nowIso: string, out: AlarmCheck) => {
    const from = now - windowMs;
    const open = new Map(fleet.openAlarms('drift').map((a) => [a.key, a]));
    for (const v of telemetry.versionsInUse(Math.floor(from / ROLLUP_MS) * ROLLUP_MS)) {
      if (!store.getModelVersion(v.model, v.version)) continue;
      // the same merge and sample-size-aware decision as the dashboard and the drift gate (design §6):
      // no verdict on too little data, so small windows neither raise nor clear an alarm
      const h = computeHealth(ctx, { model: v.model, version: v.version, from, to: now + 1, bucketMs: windowMs + ROLLUP_MS });
      for (const d of h.drift) {
        const key = `drift:${v.model}@${v.version}:${d.feature}`;
        const details = {
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
          store.transaction(() => {
            fleet.raiseAlarm(key, 'drift', nowIso, JSON.stringify(details));
            store.appendAudit('hub', 'alarm.drift', details, nowIso);
          });
          notifier.emit('drift-alarm', details);
          out.raised.push({ kind: 'drift', key });
        } else if (d.verdict === 'no-drift' && open.has(key)) {
          store.transaction(() => {
            fleet.clearAlarm(key);
            store.appendAudit('hub', 'alarm.drift-cleared', details, nowIso);
          });
          out.cleared.push({ kind: 'drift', key });
        }
      }
    }
  };

  const checkSilent = (now: number, nowIso: string, out: AlarmCheck) => {
    const open = new Map(fleet.openAlarms('silent').map((a) => [a.key, a]));
    // a silence ends when the device is online again or was heard from after the alarm's last-seen time
    for (const a of open.values()) {
      const id = a.key.slice('silent:'.length);
      const d = fleet.deviceSeen(id);
      const since = (JSON.parse(a.details) as { lastSeen?: string }).lastSeen;
      if (!d || d.status === 'online' || d.seen !== since) {
        store.transaction(() => {
          fleet.clearAlarm(a.key);
          store.appendAudit('hub', 'alarm.device-silent-cleared', { deviceId: id, removed: !d }, nowIso);
        });
        open.delete(a.key);
        out.cleared.push({ kind: 'silent', key: a.key });
      }
    }
    if (now - silentMs < startedAt) return;
    for (const d of fleet.silentDevices(new Date(now - silentMs).toISOString())) {
      const key = `silent:${d.id}`;
      if (open.has(key)) continue;
      const silentForMs = now - Date.parse(d.seen);
      const details = { deviceId: d.id, status: d.status, lastSeen: d.seen, silentForMs, limitMs: silentMs, tags: JSON.parse(d.tags) as Record<string, string> };
      store.transaction(() => {
        fleet.raiseAlarm(key, 'silent', nowIso, JSON.stringify(details));
        store.appendAudit('hub', 'alarm.device-silent', details, nowIso);
        // the dashboard's recent events and the device page read the events table
        store.insertEvent({
          deviceId: d.id,
          type: 'device-silent',
          model: null,
          version: null,
          code: null,
          message: `not heard from for ${Math.round(silentForMs / 60_000)} min (limit ${Math.round(silentMs / 60_000)} min)`,
          at: nowIso,
          receivedAt: now,
        });
      });
      notifier.emit('device-silent', details);
      out.raised.push({ kind: 'silent', key });
    }
  };

  const check = (): AlarmCheck => {
    const out: AlarmCheck = { raised: [], cleared: [] };
    const now = ctx.now().getTime();
    const nowIso = new Date(now).toISOString();
    for (const [name, f] of [['drift', checkDrift], ['silent', checkSilent]] as const) {
      try {
        f(now, nowIso, out);
      } catch (err) {
        ctx.log(`alarms (${name}): ${String(err)}`);
      }
    }
    return out;
  };

  const timer = setInterval(check, intervalMs);
  timer.unref();
  return {
    check,
    close: () => clearInterval(timer),
  };
}
