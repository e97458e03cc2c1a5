// Two hub replicas on one real PostgreSQL database, in this process (design §7, §8): webhook deliveries are
// rows of a shared outbox that either replica's workers claim (FOR UPDATE SKIP LOCKED, under a lease), so a
// burst emitted on one is delivered by both, each event once per receiver with one delivery id, the rows a
// frozen claimer held are delivered by the others once its lease runs out, and those a closing one had in
// flight at once. Change notices (LISTEN/NOTIFY)
// reach the other replica at once: a receiver added on one is used by the other's next event (its TTL is 10
// min here), and a device removed on one is disconnected from the other's embedded broker.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '@edgefleet/hub';
import { startPostgres, type PostgresServer } from '../../scripts/sim/postgres.js';
import { openStore, type Store } from '../src/store/db.js';
import { createNotifier, DELIVERY_HEADER } from '../src/notify/index.js';
import { apiClient, connectDevice, startTestHub, tempDir, waitFor } from './helpers.js';
import { signatureValid } from './webhooks-support.js';

const SECRET = 'one-secret-for-every-replica';

/** A receiver that answers after `delayMs`, so deliveries overlap and both replicas' workers get some. */
async function slowReceiver(delayMs: number) {
  const got: Array<{ headers: IncomingHttpHeaders; raw: Buffer; body: { id: string; event: string; payload: Record<string, unknown> } }> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      got.push({ headers: req.headers, raw, body: JSON.parse(raw.toString('utf8')) });
      setTimeout(() => res.writeHead(200).end('ok'), delayMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    got,
    close: () => new Promise<void>((r) => (server.close(() => r()), server.closeAllConnections())),
  };
}

/** Resolves once `store` hears a notice published after every write so far (notices arrive in commit order). */
async function barrier(from: Store, to: Store): Promise<void> {
  const key = Math.random().toString(36).slice(2);
  await new Promise<void>((resolve) => {
    const off = to.changes.subscribe('test-barrier', (k) => {
      if (k !== key) return;
      off();
      resolve();
    });
    void from.changes.publish('test-barrier', key);
  });
}

describe('webhooks and caches across two replicas on PostgreSQL', () => {
  const dir = tempDir('edgefleet-webhook-replicas-');
  let server: PostgresServer;
  let db: string;
  let a: Hub;
  let b: Hub;
  const closers: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    server = await startPostgres();
    db = await server.createDatabase();
    const common = { db, ws: null, webhookSecret: SECRET, alarms: false as const };
    a = await startTestHub(join(dir.path, 'a'), { ...common, replicaId: 'wa' });
    b = await startTestHub(join(dir.path, 'b'), { ...common, replicaId: 'wb' });
  });
  afterAll(async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    await a?.close();
    await b?.close();
    await server?.stop();
    dir.remove();
  });

  it('delivers a burst emitted on one replica through both: every event once, one delivery id each', async () => {
    const receiver = await slowReceiver(15);
    closers.push(receiver.close);
    const admin = apiClient(a.urls.http, a.adminToken);
    const added = await admin.post('/webhooks', { url: receiver.url });
    expect(added.status).toBe(201);
    await barrier(a.services.ctx.store, b.services.ctx.store);
    const N = 120;
    const before = { a: a.services.notifier.stats().delivered, b: b.services.notifier.stats().delivered };
    // all of them on replica a: b's workers take their share from the outbox, told by the notice of a's insert
    for (let i = 0; i < N; i++) a.services.notifier.emit('gate-failed', { id: `burst-${i}`, wave: 1 });
    await waitFor(() => new Set(receiver.got.map((r) => r.body.payload.id)).size === N, `${N} events received`, 30_000);
    await a.services.notifier.idle();
    await b.services.notifier.idle();

    const ids = new Map<string, Set<string>>();
    for (const r of receiver.got) {
      expect(signatureValid(SECRET, r.raw, r.headers['x-edgefleet-signature'])).toBe(true);
      const set = ids.get(r.body.payload.id as string) ?? new Set();
      set.add(String(r.headers[DELIVERY_HEADER.toLowerCase()]));
      ids.set(r.body.payload.id as string, set);
    }
    expect([...ids.keys()].sort()).toEqual(Array.from({ length: N }, (_, i) => `burst-${i}`).sort());
    expect([...ids.values()].every((s) => s.size === 1)).toBe(true);
    expect(receiver.got).toHaveLength(N); // nothing was delivered twice either (no lease ran out here)
    const delivered = { a: a.services.notifier.stats().delivered - before.a, b: b.services.notifier.stats().delivered - before.b };
    expect(delivered.a + delivered.b).toBe(N);
    expect(delivered.a).toBeGreaterThan(0);
    expect(delivered.b).toBeGreaterThan(0);
    // the delivery log, one row per attempt, is the same from either replica (tokens too: a's works on b)
    const log = await apiClient(b.urls.http, a.adminToken).get(`/webhooks/deliveries?event=gate-failed&limit=1000`);
    expect(log.body.deliveries.filter((d: any) => d.url === receiver.url && d.status === 200)).toHaveLength(N);
    expect((await admin.del(`/webhooks/${added.body.webhook.id}`)).status).toBe(200);
  });

  /** Another replica on its own database connection whose every delivery attempt hangs until aborted; what it attempted. */
  async function hangingReplica(url: string, replica: string, leaseMs: number) {
    const own = await openStore(db);
    closers.push(() => own.close());
    const attempted: string[] = [];
    const hang: typeof fetch = (to, init) =>
      new Promise((_, reject) => {
        if (to === url) attempted.push(String((init?.headers as Record<string, string>)[DELIVERY_HEADER]));
        init?.signal?.addEventListener('abort', () => reject(init.signal!.reason));
      });
    const notifier = createNotifier({ store: own.webhooks, urls: [url], secret: SECRET, fetch: hang, timeoutMs: 120_000, leaseMs, replica, closeWaitMs: 0, concurrency: 40 });
    return { notifier, attempted };
  }

  it('delivers the rows a frozen replica had claimed once its lease runs out, with the same delivery ids', async () => {
    const receiver = await slowReceiver(50);
    closers.push(receiver.close);
    // replica c: its workers claim rows and then hang (a frozen process)
    const { notifier: c, attempted: attemptedByC } = await hangingReplica(receiver.url, 'wc', 1500);
    closers.push(() => c.close());
    await c.ready();
    // a and b hold at most 4 each in flight: c's first claim takes most of these
    const N = 40;
    for (let i = 0; i < N; i++) c.emit('rollout-completed', { id: `frozen-${i}` });
    await waitFor(() => attemptedByC.length > 0, 'replica c holding claims');
    // a and b deliver everything: what c never claimed at once, what it claimed after its lease ends
    await waitFor(() => new Set(receiver.got.map((r) => r.body.payload.id)).size === N, `all ${N} delivered`, 20_000);
    const deliveryOf = new Map(receiver.got.map((r) => [String(r.headers[DELIVERY_HEADER.toLowerCase()]), r.body.payload.id]));
    for (const id of attemptedByC) expect(deliveryOf.has(id)).toBe(true);
    expect(c.stats().delivered).toBe(0);
    await a.services.notifier.idle();
  });

  it('hands the deliveries a closing replica had in flight back to the outbox: another replica delivers them', async () => {
    const receiver = await slowReceiver(0);
    closers.push(receiver.close);
    // a lease of 10 min: what the others deliver here was released by the close, not taken after a lease
    const { notifier: d, attempted: attemptedByD } = await hangingReplica(receiver.url, 'wd', 600_000);
    await d.ready();
    const N = 20;
    for (let i = 0; i < N; i++) d.emit('rollout-rolled-back', { id: `closing-${i}` });
    await waitFor(() => attemptedByD.length > 0, 'replica d attempting deliveries');
    await d.close();
    await waitFor(() => new Set(receiver.got.map((r) => r.body.payload.id)).size === N, `all ${N} delivered`, 20_000);
    const delivered = new Set(receiver.got.map((r) => String(r.headers[DELIVERY_HEADER.toLowerCase()])));
    for (const id of attemptedByD) expect(delivered.has(id)).toBe(true);
    expect(d.stats().abandoned).toBe(attemptedByD.length);
    // the log shows d's attempt cut short and the next one, by another replica, with the same delivery id
    const first = attemptedByD[0]!;
    const rows = (await a.services.notifier.deliveries({ deliveryId: first })).reverse();
    expect(rows.map((r) => [r.attempt, r.status])).toEqual([
      [1, null],
      [2, 200],
    ]);
    expect(rows[0]!.error).toMatch(/aborted: hub closing; retry 2\/5 in 0 ms/);
    await a.services.notifier.idle();
  });

  it('a receiver added on one replica gets the other’s next event, and one removed gets none (no TTL wait)', async () => {
    const receiver = await slowReceiver(0);
    closers.push(receiver.close);
    const storeB2 = await openStore(db);
    closers.push(() => storeB2.close());
    // a notifier that would not read the receivers again for 10 min without a notice
    const b2 = createNotifier({ store: storeB2.webhooks, secret: SECRET, targetsTtlMs: 600_000, replica: 'wb2' });
    closers.push(() => b2.close());
    await b2.ready();
    expect(await b2.targets()).toEqual([]);
    const admin = apiClient(a.urls.http, a.adminToken);
    const added = await admin.post('/webhooks', { url: receiver.url });
    expect(added.status).toBe(201);
    await barrier(a.services.ctx.store, storeB2);
    b2.emit('gate-failed', { id: 'after-add' });
    await waitFor(() => receiver.got.some((r) => r.body.payload.id === 'after-add'), 'the event emitted on the other replica');

    expect((await admin.del(`/webhooks/${added.body.webhook.id}`)).status).toBe(200);
    await barrier(a.services.ctx.store, storeB2);
    b2.emit('gate-failed', { id: 'after-remove' });
    await b2.idle();
    await a.services.notifier.idle();
    expect(receiver.got.map((r) => r.body.payload.id)).toEqual(['after-add']);
  });

  it('a device removed on one replica is disconnected from the other’s broker and refused there', async () => {
    const admin = apiClient(a.urls.http, a.adminToken);
    const created = await admin.post('/devices', { id: 'edge-repl-1' });
    expect(created.status).toBe(201);
    await barrier(a.services.ctx.store, b.services.ctx.store);
    const client = await connectDevice(b.urls.mqtt!, 'edge-repl-1', created.body.token);
    let closed = false;
    client.once('close', () => (closed = true));
    expect((await admin.del('/devices/edge-repl-1')).status).toBe(200);
    // the embedded broker of replica b drops it (it never would on its own: there is no TTL to run out)
    await waitFor(() => closed, 'replica b dropping the removed device', 10_000);
    await expect(connectDevice(b.urls.mqtt!, 'edge-repl-1', created.body.token)).rejects.toThrow();
    client.end(true);
  });
});
