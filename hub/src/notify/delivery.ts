// One webhook delivery attempt (design §7): a signed POST with a time limit whose answer is not read, and
// the retry rule: which outcomes are worth another try and how long to wait before it.

import { DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER } from './signing.js';

export interface RetryPolicy {
  /** Attempts per delivery including the first (default 5). */
  attempts: number;
  /** First backoff; doubles per attempt, with jitter (default 1000 ms). */
  baseMs: number;
  /** Cap of one backoff (default 60 s). */
  maxMs?: number;
}

/** What one attempt sends: the same signed bytes on every retry. */
export interface SignedDelivery {
  url: string;
  event: string;
  deliveryId: string;
  body: string;
  signature: string;
}

/** The outcome of one attempt: an HTTP status, or null and why no response came. */
export interface AttemptOutcome {
  status: number | null;
  error: string | null;
}

export async function postDelivery(doFetch: typeof fetch, d: SignedDelivery, controller: AbortController, timeoutMs: number): Promise<AttemptOutcome> {
  const timer = setTimeout(() => controller.abort(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
  let status: number | null = null;
  let error: string | null = null;
  try {
    const res = await doFetch(d.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'edgefleet-hub',
        [SIGNATURE_HEADER]: d.signature,
        [EVENT_HEADER]: d.event,
        [DELIVERY_HEADER]: d.deliveryId,
      },
      body: d.body,
      redirect: 'manual',
      signal: controller.signal,
    });
    status = res.status;
    await res.body?.cancel().catch(() => undefined); // the receiver's answer is not read
  } catch (err) {
    const reason = controller.signal.aborted ? controller.signal.reason : err;
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    error = (reason instanceof Error ? reason.message : String(reason)) + (cause?.code ? ` (${cause.code})` : '');
  } finally {
    clearTimeout(timer);
  }
  return { status, error };
}

export const delivered = (status: number | null): boolean => status !== null && status >= 200 && status < 300;

/**
 * Network errors and 5xx are worth another try; a 4xx says the request itself is refused
 * (408 and 429 are the receiver asking for time, so they are retried too).
 */
export const retryable = (status: number | null): boolean => status === null || status >= 500 || status === 408 || status === 429;

/**
 * Exponential with jitter ("equal jitter"): half fixed, half random, so retries of many deliveries after
 * one receiver outage do not arrive in lockstep.
 */
export function backoff(retry: Required<RetryPolicy>, attempt: number): number {
  const d = Math.min(retry.maxMs, retry.baseMs * 2 ** (attempt - 1));
  return Math.round(d / 2 + Math.random() * (d / 2));
}
