// The notifier as the rest of the hub sees it (design §7 webhooks): the port HubContext carries and the
// event names. Imports only the store's row type, so context.ts can name it without the delivery machinery.

import type { DeliveryRow } from '../store/webhooks.js';

export type { DeliveryRow };

export const WEBHOOK_EVENTS = [
  'gate-failed',
  'rollout-paused',
  'rollout-rolled-back',
  'rollout-completed',
  'rollout-no-evidence',
  'device-rolled-back',
  'drift-alarm',
  'device-silent',
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export interface WebhookTarget {
  /** `config` targets come from the hub's options and cannot be removed through the API. */
  id: string;
  url: string;
  source: 'config' | 'api';
  createdAt: string | null;
  createdBy: string | null;
}

export interface DeliveryFilter {
  limit?: number;
  event?: string;
  deliveryId?: string;
}

/** Counts of the outbox are every replica's, as last read; outcomes and drops are this replica's since start. */
export interface NotifierStats {
  queued: number;
  waiting: number;
  inFlight: number;
  delivered: number;
  failed: number;
  /** Deliveries refused because the queue was full (design: hot paths never wait on a receiver). */
  dropped: number;
  /** `dropped` by class: fleet-level events (gates, rollouts, drift) and device-level ones. */
  droppedFleet: number;
  droppedDevice: number;
  /** Device-level events folded into a delivery of the same (device, event) not yet sent. */
  coalesced: number;
  /** Attempts cut short by this hub closing (their rows stay in the outbox). */
  abandoned: number;
}

export interface Notifier {
  /** Queue one event for every configured URL; returns at once, never throws (the rows are written right after). */
  emit(event: WebhookEvent, payload: Record<string, unknown>): void;
  /**
   * Queue one event in the caller's transaction (call it inside `store.transaction`): its deliveries commit
   * with the state change that caused it, or not at all. Throws what the database throws.
   */
  enqueue(event: WebhookEvent, payload: Record<string, unknown>): Promise<void>;
  /** Wait briefly for deliveries in flight, then abort them; what is not delivered stays in the outbox. */
  close(): Promise<void>;
  targets(): Promise<WebhookTarget[]>;
  /** Persist a URL (API); throws CONFLICT when it is already configured. */
  add(url: string, actor: string): Promise<WebhookTarget>;
  /** Remove an API-added URL; false when there is none with that id. */
  remove(id: string): Promise<boolean>;
  deliveries(query?: DeliveryFilter): Promise<DeliveryRow[]>;
  stats(): NotifierStats;
  /** Resolves when nothing is queued, waiting or in flight (in the outbox, on any replica). */
  idle(): Promise<void>;
  /** Resolves once the receivers added through the API were read (emit() before that waits for the read, in order). */
  ready(): Promise<void>;
}
