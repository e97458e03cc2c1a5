// What makes a webhook delivery verifiable (design §7): its headers, the signed body, the HMAC and the
// secret that keys it.
//
// Receivers verify a delivery like this (Node; any language with HMAC-SHA256 works the same way):
//
//   const expected = 'sha256=' + createHmac('sha256', SECRET).update(rawBody).digest('hex');
//   const given = req.headers['x-edgefleet-signature'];
//   ok = given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
//
// Sign the raw request bytes exactly as received (before any JSON parsing). The body's `at` lets a receiver
// refuse old replays; `X-Edgefleet-Delivery` stays the same across retries of one delivery (de-duplicate on it).

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WebhookEvent } from './port.js';

export const SIGNATURE_HEADER = 'X-Edgefleet-Signature';
export const EVENT_HEADER = 'X-Edgefleet-Event';
export const DELIVERY_HEADER = 'X-Edgefleet-Delivery';

/** What a receiver gets (the raw bytes are what is signed). */
export interface WebhookBody {
  /** Event id: one per emit, shared by the deliveries of that event to every URL. */
  id: string;
  event: WebhookEvent;
  at: string;
  /** The hub's public URL. */
  hub: string;
  payload: Record<string, unknown>;
}

export function signBody(secret: string, body: string | Uint8Array): string {
  return 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
}

/** Timing-safe check of an `X-Edgefleet-Signature` header against the raw body. */
export function verifySignature(secret: string, body: string | Uint8Array, header: string | null | undefined): boolean {
  if (!header) return false;
  const expected = Buffer.from(signBody(secret, body));
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * The secret that signs deliveries: `given` (flag or environment) wins; otherwise `<dataDir>/webhook-secret`,
 * created on first start with 32 random bytes and mode 0600 (design §2: secrets in the data dir are 0600).
 */
export function loadOrCreateWebhookSecret(dataDir: string, given?: string): { secret: string; created: boolean; file: string } {
  const file = join(dataDir, 'webhook-secret');
  if (given) return { secret: given, created: false, file };
  if (existsSync(file)) {
    const secret = readFileSync(file, 'utf8').trim();
    if (secret) return { secret, created: false, file };
  }
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, secret + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return { secret, created: true, file };
}
