// notify/: outbound webhooks (design §7). The Notifier port (port.ts) is what the rest of the hub holds
// (HubContext.notifier); createNotifier queues, signs, delivers and logs; the HTTP routes that manage
// receivers live in http/routes/webhooks.ts. May import: protocol, store/. Never http/ or context.ts.

export { WEBHOOK_EVENTS, type WebhookEvent, type Notifier, type NotifierStats, type WebhookTarget, type DeliveryRow, type DeliveryFilter } from './port.js';
export { createNotifier, notifierGauges, type NotifierOptions } from './notifier.js';
export type { RetryPolicy } from './delivery.js';
export { DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, loadOrCreateWebhookSecret, signBody, verifySignature, type WebhookBody } from './signing.js';
export { redactUrl } from './receivers.js';
