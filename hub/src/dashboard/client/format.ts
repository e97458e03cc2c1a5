// Numbers, percentages and times as the dashboard prints them: '–' for no value, local times in the
// viewer's zone.

import type { EventType } from './api-types.js';

/** The viewer's time zone name, as every time on the page is shown in it. */
export const TZ = (() => {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'local time';
  } catch {
    return 'local time';
  }
})();

/** Short, human-sized numbers: 12.3k, 1.2M, 0.034. */
export function fmtNum(v: number | null | undefined): string {
  if (v === null || v === undefined || !isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a >= 1e6) return (v / 1e6).toFixed(a >= 1e7 ? 0 : 1) + 'M';
  if (a >= 1e4) return (v / 1e3).toFixed(a >= 1e5 ? 0 : 1) + 'k';
  if (a >= 100 || a === 0) return String(Math.round(v));
  if (a >= 10) return v.toFixed(1).replace(/\.0$/, '');
  if (a >= 1) return v.toFixed(2).replace(/\.?0+$/, '');
  return Number(v.toPrecision(2)).toString();
}

export function pct(v: number | null | undefined, digits = 1): string {
  return v === null || v === undefined ? '–' : (v * 100).toFixed(digits) + ' %';
}

export function ms(v: number | null | undefined): string {
  return v === null || v === undefined ? '–' : fmtNum(v) + ' ms';
}

/** Bytes in binary units: 512 B, 3.2 MiB, 78.8 GiB. */
export function bytes(v: number | null | undefined): string {
  if (v === null || v === undefined || !isFinite(v)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let x = v;
  let i = 0;
  while (Math.abs(x) >= 1024 && i < units.length - 1) (x /= 1024), i++;
  return (i === 0 ? String(Math.round(x)) : x.toFixed(Math.abs(x) >= 100 ? 0 : 1)) + ' ' + units[i];
}

/** A duration in the largest fitting unit: 42 s, 3 min, 5.2 h, 3 d. */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) return '–';
  const s = Math.max(0, seconds);
  if (s < 60) return Math.round(s) + ' s';
  if (s < 3600) return Math.round(s / 60) + ' min';
  if (s < 86400) return (s / 3600).toFixed(s < 36000 ? 1 : 0).replace(/\.0$/, '') + ' h';
  return (s / 86400).toFixed(s < 864000 ? 1 : 0).replace(/\.0$/, '') + ' d';
}

/** A countdown: 45 s, 1 min 20 s, 1 h 05 min. */
export function countdown(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
  return Math.floor(s / 3600) + ' h ' + String(Math.floor((s % 3600) / 60)).padStart(2, '0') + ' min';
}

/** Natural order of ids: pump-2 before pump-10. */
export const naturalCompare = (a: string, b: string): number => a.localeCompare(b, 'en', { numeric: true });

export function when(iso: string | null | undefined): string {
  if (!iso) return 'never';
  const d = new Date(iso);
  return isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

export function ago(iso: string | null | undefined): string {
  if (!iso) return 'never';
  const s = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 60) return Math.max(0, s) + ' s ago';
  if (s < 3600) return Math.round(s / 60) + ' min ago';
  if (s < 86400) return Math.round(s / 3600) + ' h ago';
  return Math.round(s / 86400) + ' d ago';
}

export const enc = (s: string): string => encodeURIComponent(s);

const BAD_EVENTS: ReadonlySet<string> = new Set<EventType>([
  'rolled-back',
  'verification-failed',
  'download-failed',
  'self-test-failed',
  'load-failed',
  'error',
  'outbox-dropped',
  'device-silent',
]);

/** Whether an event is shown as bad (red) in the event lists. */
export const isBadEvent = (type: string): boolean => BAD_EVENTS.has(type);
