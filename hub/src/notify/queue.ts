// Admission to the webhook delivery queue (design §7): fleet-level alerts (gates, rollouts, drift) have
// room reserved that device-level events cannot take, and a device-level event not yet sent is coalesced
// with later ones of the same (device, event) to the same receiver, so one device — or a fleet of them —
// can never crowd an operator's alerts out of a bounded queue. The queue is the outbox table
// (store/webhook-outbox.ts): it hands out fleet-level rows first, so an alert never waits behind a device storm.

import type { WebhookEvent } from './port.js';

/** Events about the fleet or a rollout, as opposed to one device. */
export const FLEET_EVENTS: ReadonlySet<WebhookEvent> = new Set<WebhookEvent>([
  'gate-failed',
  'rollout-paused',
  'rollout-rolled-back',
  'rollout-completed',
  'rollout-no-evidence',
  'drift-alarm',
]);

export type DeliveryClass = 'fleet' | 'device';

export const classOf = (event: WebhookEvent): DeliveryClass => (FLEET_EVENTS.has(event) ? 'fleet' : 'device');

export interface Admission {
  maxQueue: number;
  /** Outstanding slots only fleet-level deliveries may use. */
  reserveFleet: number;
}

/** Default room reserved for fleet-level deliveries: a quarter of the queue. */
export const defaultFleetReserve = (maxQueue: number): number => Math.ceil(maxQueue / 4);

/** Coalescing key of a device-level delivery to `url`; null for fleet-level ones (each is its own alert). */
export function coalesceKey(event: WebhookEvent, payload: Record<string, unknown>, url: string): string | null {
  if (classOf(event) === 'fleet') return null;
  const device = payload.deviceId;
  // JSON, not NUL-joined: the key is a text column, and PostgreSQL text cannot hold \u0000
  return typeof device === 'string' ? JSON.stringify([event, device, url]) : null;
}

/**
 * Whether a new delivery of class `cls` fits, given what is outstanding (queued, waiting to retry, in
 * flight) per class: device-level ones never take the last `reserveFleet` slots.
 */
export function admits(a: Admission, cls: DeliveryClass, outstanding: Record<DeliveryClass, number>): boolean {
  const total = outstanding.fleet + outstanding.device;
  if (total >= a.maxQueue) return false;
  return cls === 'fleet' || outstanding.device < a.maxQueue - Math.min(a.maxQueue, a.reserveFleet);
}

/** The payload a delivery carries once `occurrences` events were coalesced into it (the latest one's, counted). */
export function coalescedPayload(latest: Record<string, unknown>, occurrences: number, firstAt: string): Record<string, unknown> {
  return occurrences > 1 ? { ...latest, occurrences, firstAt } : latest;
}
