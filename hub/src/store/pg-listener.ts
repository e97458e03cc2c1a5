// LISTEN on a PostgreSQL connection of its own (store/sql.ts `listen`): notices of one channel to a callback,
// and when the connection is lost, reconnecting with backoff and then reporting a reset — notices sent while
// it was away are gone (PostgreSQL keeps none for a session that is not listening), so whoever built state
// from them must drop it. Not from the store's pool: a pooled connection is shared, and LISTEN is per session.
import pg from 'pg';
import { quoteIdent } from './postgres-sql.js';

export interface PgListenerOptions {
  /** First reconnect delay; doubles up to 5 s (default 200 ms). */
  retryMs?: number;
  onError?: (err: Error) => void;
}

export interface PgListener {
  /** Resolves once the first LISTEN is in place (rejects if that first connection fails). */
  ready: Promise<void>;
  close(): void;
}

export function openPgListener(url: string, channel: string, onPayload: (p: string) => void, onReset: () => void, opts: PgListenerOptions = {}): PgListener {
  const firstDelay = opts.retryMs ?? 200;
  let delay = firstDelay;
  let closed = false;
  let client: pg.Client | null = null;
  let timer: NodeJS.Timeout | undefined;
  let connectedOnce = false;
  let failedOnce = false; // a first connect that failed: subscribers may have cached without hearing notices

  const connect = async (): Promise<void> => {
    const c = new pg.Client({
      connectionString: url,
      keepAlive: true,
      keepAliveInitialDelayMillis: 2000,
      // a listening session is idle by design: a server-wide idle_session_timeout must not end it
      options: '-c idle_session_timeout=0 -c idle_in_transaction_session_timeout=0',
    });
    let lost = false;
    const lose = (err: Error) => {
      if (lost) return;
      lost = true;
      c.removeAllListeners('notification');
      void c.end().catch(() => undefined);
      if (client === c) client = null;
      if (closed) return;
      opts.onError?.(err);
      failedOnce = true;
      timer = setTimeout(() => void again(), delay);
      timer.unref?.();
      delay = Math.min(5000, delay * 2);
    };
    c.on('error', lose);
    c.on('end', () => lose(new Error('the listening connection ended')));
    c.on('notification', (m) => {
      if (m.channel === channel) onPayload(m.payload ?? '');
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${quoteIdent(channel)}`);
    } catch (err) {
      lose(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
    if (closed) {
      await c.end().catch(() => undefined);
      return;
    }
    client = c;
    delay = firstDelay;
    if (connectedOnce || failedOnce) onReset(); // what was sent while no session listened is lost
    connectedOnce = true;
  };
  const again = async (): Promise<void> => {
    if (closed) return;
    await connect().catch(() => undefined); // lose() scheduled the next try
  };

  const ready = connect();
  ready.catch(() => undefined);
  return {
    ready,
    close() {
      closed = true;
      clearTimeout(timer);
      const c = client;
      client = null;
      if (c) {
        c.removeAllListeners();
        c.on('error', () => undefined);
        void c.end().catch(() => undefined);
      }
    },
  };
}
