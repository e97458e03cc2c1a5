// Webhooks against a real local HTTP receiver and a real hub (design §7): signed bodies,
// retries after 5xx with the same body, no retry on 4xx, the delivery log in the API, URLs managed by admins,
// device rollbacks reported over MQTT, and a bounded queue.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '@edgefleet/protocol';
import type { Hub } from '@edgefleet/hub';
import { openStore } from '../src/store/db.js';
import { createNotifier } from '../src/notify/index.js';
import { apiClient, connectDevice, startTestHub, tempDir, tinyModel } from './helpers.js';
import { cliArgs, runCli, signatureValid, startReceiver, type Receiver } from './webhooks-support.js';

describe('webhooks', () => {
  let dir: ReturnType<typeof tempDir>;
  let hub: Hub;
  let receiver: Receiver;
  let secret: string;

  beforeAll(async () => {
    dir = tempDir('edgefleet-webhooks-');
    receiver = await startReceiver();
    hub = await startTestHub(join(dir.path, 'data'), { ws: null, webhooks: [receiver.url], webhookRetry: { attempts: 3, baseMs: 20 }, alarms: false });
    secret = readFileSync(join(dir.path, 'data', 'webhook-secret'), 'utf8').trim();
  });
  afterAll(async () => {
    await hub?.close();
    await receiver?.close();
    dir.remove();
  });
  afterEach(async () => {
    await hub.services.notifier.idle();
    receiver.received.length = 0;
    receiver.script([]);
  });

  it('creates the signing secret on first start, readable only by the hub user', () => {
    expect(secret.length).toBeGreaterThanOrEqual(32);
    expect(statSync(join(dir.path, 'data', 'webhook-secret')).mode & 0o777).toBe(0o600);
  });

  it('delivers a gate failure signed with HMAC-SHA256 of the raw body, and retries after a 500 with the identical body', async () => {
    receiver.script([500, 200]);
    const payload = { id: 'r-1', wave: 1, gate: 'latency', value: 3.1, limit: 1.25, model: 'vib', version: '2.0.0' };
    // the way the rollout engine reports a failed gate (ctx.notifier is what it calls)
    hub.services.ctx.notifier.emit('gate-failed', payload);
    const [first, second] = await receiver.waitFor(2);
    await hub.services.notifier.idle();
    expect(receiver.received).toHaveLength(2);
    for (const r of [first!, second!]) {
      expect(signatureValid(secret, r.raw, r.headers['x-edgefleet-signature'])).toBe(true);
      expect(r.headers['x-edgefleet-event']).toBe('gate-failed');
      expect(r.headers['content-type']).toBe('application/json');
    }
    // a forged or altered body does not verify
    expect(signatureValid('not-the-secret', first!.raw, first!.headers['x-edgefleet-signature'])).toBe(false);
    expect(signatureValid(secret, Buffer.from(first!.raw.toString().replace('latency', 'accuracy')), first!.headers['x-edgefleet-signature'])).toBe(false);
    // a retry is the same delivery: byte-identical body, same delivery id
    expect(second!.raw.equals(first!.raw)).toBe(true);
    expect(second!.headers['x-edgefleet-delivery']).toBe(first!.headers['x-edgefleet-delivery']);
    expect(first!.body).toMatchObject({ event: 'gate-failed', hub: hub.urls.http, payload });
    expect(Date.parse(first!.body.at)).not.toBeNaN();

    const viewer = (await apiClient(hub.urls.http, hub.adminToken).post('/tokens', { role: 'viewer' })).body.token as string;
    const path = `/webhooks/deliveries?delivery=${first!.headers['x-edgefleet-delivery']}`;
    // viewers see the log, but not the receiver's path (it often holds a secret)
    const seen = await apiClient(hub.urls.http, viewer).get(path);
    expect(seen.status).toBe(200);
    expect(seen.body.deliveries.map((d: any) => d.url)).toEqual([`${new URL(receiver.url).origin}/…`, `${new URL(receiver.url).origin}/…`]);
    const log = await apiClient(hub.urls.http, hub.adminToken).get(path);
    const rows = [...log.body.deliveries].reverse();
    expect(rows.map((d: any) => [d.event, d.url, d.attempt, d.status])).toEqual([
      ['gate-failed', receiver.url, 1, 500],
      ['gate-failed', receiver.url, 2, 200],
    ]);
    expect(rows[0].error).toMatch(/HTTP 500; retry 2\/3/);
    expect(rows[1].error).toBeNull();
    expect(rows[0].eventId).toBe(first!.body.id);
  });

  it('does not retry a delivery the receiver refuses with a 4xx', async () => {
    receiver.script([400, 200]);
    hub.services.notifier.emit('rollout-paused', { id: 'r-2', reason: 'gate latency failed' });
    await receiver.waitFor(1);
    await hub.services.notifier.idle();
    expect(receiver.received).toHaveLength(1);
    const [row] = (await hub.services.notifier.deliveries({ event: 'rollout-paused' }));
    expect(row).toMatchObject({ attempt: 1, status: 400 });
    expect(row!.error).toMatch(/not retried/);
  });

  it('gives up after the configured attempts when the receiver keeps failing', async () => {
    receiver.script([], 503);
    hub.services.notifier.emit('rollout-completed', { id: 'r-3' });
    await receiver.waitFor(3);
    await hub.services.notifier.idle();
    expect(receiver.received).toHaveLength(3);
    const rows = (await hub.services.notifier.deliveries({ event: 'rollout-completed' }));
    expect(rows.map((r) => r.attempt).sort()).toEqual([1, 2, 3]);
    expect(rows[0]!.error).toMatch(/gave up after 3 attempts/);
  });

  it('retries a network error (nothing listening) and logs it without a status', async () => {
    const dead = await startReceiver();
    const url = dead.url;
    await dead.close();
    const api = apiClient(hub.urls.http, hub.adminToken);
    const added = await api.post('/webhooks', { url });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    try {
      hub.services.notifier.emit('rollout-rolled-back', { id: 'r-4' });
      await receiver.waitFor(1);
      await hub.services.notifier.idle();
      const rows = (await hub.services.notifier.deliveries({ event: 'rollout-rolled-back' })).filter((r) => r.url === url);
      expect(rows).toHaveLength(3);
      expect(rows.every((r) => r.status === null && /ECONNREFUSED/.test(r.error ?? ''))).toBe(true);
    } finally {
      expect((await api.del(`/webhooks/${added.body.webhook.id}`)).status).toBe(200);
    }
  });

  it('lets admins add and remove receivers through the API (audited), and no one else', async () => {
    const admin = apiClient(hub.urls.http, hub.adminToken);
    const second = await startReceiver();
    try {
      const operator = apiClient(hub.urls.http, (await admin.post('/tokens', { role: 'operator' })).body.token);
      expect((await operator.post('/webhooks', { url: second.url })).status).toBe(403);
      expect((await operator.get('/webhooks')).status).toBe(403);
      expect((await admin.post('/webhooks', { url: 'ftp://example.com/x' })).body.error.code).toBe('BAD_INPUT');
      expect((await admin.post('/webhooks', { url: receiver.url })).body.error.code).toBe('CONFLICT');

      const added = await admin.post('/webhooks', { url: second.url });
      expect(added.status).toBe(201);
      const list = await admin.get('/webhooks');
      expect(list.body.webhooks.map((w: any) => [w.url, w.source])).toEqual([
        [receiver.url, 'config'],
        [second.url, 'api'],
      ]);
      // a configured URL is changed where it was configured, not through the API
      expect((await admin.del(`/webhooks/${list.body.webhooks[0].id}`)).body.error.code).toBe('CONFLICT');

      hub.services.notifier.emit('drift-alarm', { model: 'm', version: '1.0.0', feature: 'f0' });
      const [got] = await second.waitFor(1);
      await receiver.waitFor(1);
      expect(signatureValid(secret, got!.raw, got!.headers['x-edgefleet-signature'])).toBe(true);

      expect((await admin.del(`/webhooks/${added.body.webhook.id}`)).status).toBe(200);
      expect((await admin.del(`/webhooks/${added.body.webhook.id}`)).status).toBe(404);
      await hub.services.notifier.idle();
      hub.services.notifier.emit('drift-alarm', { model: 'm', version: '1.0.0', feature: 'f1' });
      await receiver.waitFor(2);
      await hub.services.notifier.idle();
      expect(second.received).toHaveLength(1);

      const paths = Object.keys((await admin.get('/openapi.json')).body.paths);
      expect(paths).toEqual(expect.arrayContaining(['/webhooks', '/webhooks/{id}', '/webhooks/deliveries']));
      const actions = (await hub.services.ctx.store.listAudit()).map((a) => a.action);
      expect(actions.filter((a) => a.startsWith('webhook.'))).toEqual(['webhook.add', 'webhook.remove', 'webhook.add', 'webhook.remove']);
    } finally {
      await second.close();
    }
  });

  it('`edgefleet webhook` lists, adds and removes receivers and shows the delivery log', async () => {
    const env = { EDGEFLEET_HUB: hub.urls.http, EDGEFLEET_TOKEN: hub.adminToken };
    const add = await runCli(['webhook', 'add', 'http://127.0.0.1:9/cli-hook'], env);
    expect(add.code, add.stderr).toBe(0);
    const id = /webhook (wh-[0-9a-f]+) added/.exec(add.stdout)?.[1];
    expect(id).toBeDefined();
    const ls = await runCli(['webhook', 'ls'], env);
    expect(ls.stdout).toContain(receiver.url);
    expect(ls.stdout).toMatch(new RegExp(`${id} +http://127\\.0\\.0\\.1:9/cli-hook +api`));
    expect((await runCli(['webhook', 'rm', id!], env)).code).toBe(0);
    expect((await runCli(['webhook', 'ls', '--json'], env)).stdout).not.toContain('cli-hook');
    const bad = await runCli(['webhook', 'add', 'not a url'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error BAD_INPUT: bad webhook URL/);

    hub.services.notifier.emit('rollout-completed', { id: 'r-cli' });
    await receiver.waitFor(1);
    await hub.services.notifier.idle();
    const log = await runCli(['webhook', 'deliveries', '--event', 'rollout-completed', '--limit', '1'], env);
    expect(log.code, log.stderr).toBe(0);
    expect(log.stdout.split('\n')[1]).toMatch(new RegExp(`rollout-completed +${receiver.url.replace(/\./g, '\\.')} +1 +200`));
  });

  it('reports a device’s own automatic rollback (its `rolled-back` event over MQTT)', async () => {
    const admin = apiClient(hub.urls.http, hub.adminToken);
    const res = await admin.post('/devices', { id: 'edge-rb-1', tags: { line: 'a' } });
    expect(res.status).toBe(201);
    const client = await connectDevice(hub.urls.mqtt!, 'edge-rb-1', res.body.token);
    try {
      const event = { type: 'rolled-back', model: 'vib', version: '2.0.0', code: 'INFERENCE_FAILED', message: 'error rate 12% over the probation limit 5%', at: new Date().toISOString() };
      // an activation is not a rollback: only the second event is delivered
      await client.publishAsync(topics.events('edge-rb-1'), JSON.stringify({ ...event, type: 'activated', message: 'active' }), { qos: 1 });
      await client.publishAsync(topics.events('edge-rb-1'), JSON.stringify(event), { qos: 1 });
      const [got] = await receiver.waitFor(1, 'device-rolled-back');
      expect(signatureValid(secret, got!.raw, got!.headers['x-edgefleet-signature'])).toBe(true);
      expect(got!.body.payload).toEqual({ deviceId: 'edge-rb-1', model: 'vib', version: '2.0.0', code: 'INFERENCE_FAILED', message: event.message, at: event.at });
      await hub.services.notifier.idle();
      expect(receiver.received.map((r) => r.body.event)).toEqual(['device-rolled-back']);
    } finally {
      await client.endAsync();
    }
  });
});

describe('webhook notifier', () => {
  it('never makes the caller wait: beyond its queue bound deliveries are dropped and counted', async () => {
    const dir = tempDir('edgefleet-notifier-');
    const store = await openStore(join(dir.path, 'hub.db'));
    const receiver = await startReceiver();
    const notifier = createNotifier({ store: store.webhooks, urls: [receiver.url], secret: 's3cret', maxQueue: 3, concurrency: 1, retry: { attempts: 1, baseMs: 1 } });
    await notifier.ready(); // the receivers added through the API are read once before emit() sends at once
    try {
      // fleet-level events: they may take the whole queue (device-level ones leave a quarter to them)
      for (let i = 0; i < 10; i++) notifier.emit('drift-alarm', { deviceId: `d-${i}` });
      expect(notifier.stats()).toMatchObject({ dropped: 7, droppedFleet: 7, queued: 3 });
      await notifier.idle();
      expect(receiver.received.map((r) => r.body.payload.deviceId)).toEqual(['d-0', 'd-1', 'd-2']);
      expect(notifier.stats()).toMatchObject({ delivered: 3, dropped: 7, queued: 0, inFlight: 0 });
      expect(receiver.received.every((r) => signatureValid('s3cret', r.raw, r.headers['x-edgefleet-signature']))).toBe(true);
    } finally {
      await notifier.close();
      await receiver.close();
      await store.close();
      dir.remove();
    }
  });
});

describe('webhook delivery log', () => {
  it('keeps only the newest attempts', async () => {
    const dir = tempDir('edgefleet-notifier-log-');
    const store = await openStore(join(dir.path, 'hub.db'));
    const receiver = await startReceiver();
    const notifier = createNotifier({ store: store.webhooks, urls: [receiver.url], secret: 's', concurrency: 1, keepDeliveries: 5 });
    await notifier.ready(); // the receivers added through the API are read once before emit() sends at once
    try {
      for (let i = 0; i < 12; i++) notifier.emit('device-silent', { deviceId: `d-${i}` });
      await notifier.idle();
      expect(receiver.received).toHaveLength(12);
      // trimmed to the newest 5 at the 10th attempt, then two more
      expect((await notifier.deliveries()).map((d) => d.id)).toEqual([12, 11, 10, 9, 8, 7, 6]);
    } finally {
      await notifier.close();
      await receiver.close();
      await store.close();
      dir.remove();
    }
  });
});

describe('webhooks from the rollout engine', () => {
  it('a wave whose device fails its self-test fails the gate and pauses the rollout: both arrive signed', async () => {
    const dir = tempDir('edgefleet-webhooks-gate-');
    const receiver = await startReceiver();
    const hub = await startTestHub(join(dir.path, 'data'), { ws: null, webhooks: [receiver.url], webhookSecret: 'gate-secret', alarms: false });
    const admin = apiClient(hub.urls.http, hub.adminToken);
    let client: Awaited<ReturnType<typeof connectDevice>> | undefined;
    try {
      const pushed = await admin.pushModel(tinyModel(), { name: 'tiny', version: '2.0.0' });
      expect(pushed.status, JSON.stringify(pushed.body)).toBe(201);
      const dev = await admin.post('/devices', { id: 'edge-gate-1' });
      client = await connectDevice(hub.urls.mqtt!, 'edge-gate-1', dev.body.token);
      await client.publishAsync(topics.status('edge-gate-1'), 'online', { qos: 1, retain: true });
      const started = await admin.post('/rollouts', { model: 'tiny', version: '2.0.0', targets: { devices: ['edge-gate-1'] }, waves: [100], soak: '1m' });
      expect(started.status, JSON.stringify(started.body)).toBe(201);
      const id = started.body.rollout.id as string;
      // what an agent reports when the new version's self-test fails (design §5): it keeps what it ran
      const reported = {
        deviceId: 'edge-gate-1',
        agentVersion: '0.1.0',
        runtime: 'onnxruntime-node',
        platform: 'linux-x64',
        desiredSequence: 1,
        keyringVersion: 1,
        models: {
          tiny: { active: null, previous: null, shadow: null, pending: null, state: 'failed', error: { code: 'SELF_TEST_FAILED', message: 'output differs from the manifest self-test' }, rolloutId: id },
        },
        resources: {},
        at: new Date().toISOString(),
      };
      await client.publishAsync(topics.reported('edge-gate-1'), JSON.stringify(reported), { qos: 1, retain: true });

      const [gate] = await receiver.waitFor(1, 'gate-failed', 15_000);
      const [paused] = await receiver.waitFor(1, 'rollout-paused', 15_000);
      for (const r of [gate!, paused!]) expect(signatureValid('gate-secret', r.raw, r.headers['x-edgefleet-signature'])).toBe(true);
      expect(gate!.body.payload).toMatchObject({ id, wave: 0 });
      expect(gate!.body.payload.failed.map((g: any) => g.name)).toContain('device-failure-rate');
      expect(paused!.body.payload).toMatchObject({ id, wave: 0 });
      expect((await admin.get(`/rollouts/${id}`)).body.rollout.status).toBe('paused');
    } finally {
      await client?.endAsync();
      await hub.close();
      await receiver.close();
      dir.remove();
    }
  });
});

describe('edgefleet hub start --webhook', () => {
  it('delivers to every --webhook URL, signed with EDGEFLEET_WEBHOOK_SECRET (no secret file written)', async () => {
    const dir = tempDir('edgefleet-webhooks-cli-');
    const [a, b] = [await startReceiver(), await startReceiver()];
    const data = join(dir.path, 'data');
    const args = ['hub', 'start', '--data', data, '--http', '127.0.0.1:0', '--mqtt', '127.0.0.1:0', '--ws', 'off', '--webhook', a.url, '--webhook', b.url];
    const child = spawn(process.execPath, cliArgs(args), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, EDGEFLEET_WEBHOOK_SECRET: 'from-the-environment' } });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const urls: Record<string, string> = {};
      for await (const line of createInterface({ input: child.stdout })) {
        const m = /^\s+(http|mqtt)\s+(\S+)$/.exec(line);
        if (m) urls[m[1]!] = m[2]!;
        if (urls.http && urls.mqtt) break;
      }
      const api = apiClient(urls.http!, readFileSync(join(data, 'admin-token'), 'utf8').trim());
      expect((await api.get('/webhooks')).body.webhooks.map((w: any) => [w.url, w.source])).toEqual([
        [a.url, 'config'],
        [b.url, 'config'],
      ]);
      const token = (await api.post('/devices', { id: 'edge-cli-1' })).body.token as string;
      const client = await connectDevice(urls.mqtt!, 'edge-cli-1', token);
      const event = { type: 'rolled-back', model: 'vib', version: '2.0.0', message: 'crash loop on 2.0.0', at: new Date().toISOString() };
      await client.publishAsync(topics.events('edge-cli-1'), JSON.stringify(event), { qos: 1 });
      const [ga] = await a.waitFor(1, 'device-rolled-back');
      const [gb] = await b.waitFor(1, 'device-rolled-back');
      await client.endAsync();
      for (const g of [ga!, gb!]) expect(signatureValid('from-the-environment', g.raw, g.headers['x-edgefleet-signature'])).toBe(true);
      expect(ga!.body.id).toBe(gb!.body.id); // one event, one delivery per URL
      expect(ga!.headers['x-edgefleet-delivery']).not.toBe(gb!.headers['x-edgefleet-delivery']);
      expect(existsSync(join(data, 'webhook-secret'))).toBe(false);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await a.close();
      await b.close();
      dir.remove();
    }
  });
});
