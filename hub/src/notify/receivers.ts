// Webhook receiver URLs (design §7): which ones are accepted, the stable id of a configured one, and the
// redacted form shown to callers who may not see a URL's secret path or query.

import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { EdgefleetError } from '@edgefleet/protocol';

const WebhookUrl = z
  .string()
  .max(2048)
  .refine((s) => {
    try {
      const u = new URL(s);
      // fetch refuses URLs with credentials; anything but http(s) is not a webhook
      return (u.protocol === 'http:' || u.protocol === 'https:') && !u.username && !u.password;
    } catch {
      return false;
    }
  }, 'a webhook URL is http(s)://host[:port]/path without credentials');

export function checkWebhookUrl(url: string): string {
  const r = WebhookUrl.safeParse(url);
  if (!r.success) throw new EdgefleetError('BAD_INPUT', `bad webhook URL ${JSON.stringify(url.slice(0, 200))}: ${r.error.issues[0]?.message ?? 'invalid'}`);
  return r.data;
}

/** The id of a URL from the hub's configuration: stable across restarts, reveals nothing of the URL. */
export const configId = (url: string) => `cfg-${createHmac('sha256', 'edgefleet-webhook-id').update(url).digest('hex').slice(0, 10)}`;

/** `https://host:port/…`: the receiver's origin without path or query. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return u.pathname === '/' && !u.search ? u.origin + '/' : `${u.origin}/…`;
  } catch {
    return '…';
  }
}
