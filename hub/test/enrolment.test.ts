// One-time enrolment links against a real hub: an operator makes a code for a device, the code is traded once
// (no bearer) for an agent config with a new token that a real Node agent connects with, while the old token
// stops working; used, expired, unknown and malformed codes, bad bodies and guessing are refused with codes
// and change nothing. The hub's clock is a fake one (its `now` option), so expiry and the rate limit's refill
// are driven by the test.
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { createAgent, type Agent } from '@edgefleet/agent';
import type { Hub } from '@edgefleet/hub';
import { apiClient, connectDevice, endClient, startTestHub, tempDir, waitFor } from './helpers.js';

describe('one-time enrolment links', () => {
  let hub: Hub;
  let dir: ReturnType<typeof tempDir>;
  let admin: ReturnType<typeof apiClient>;
  let clock = Date.parse('2026-03-01T10:00:00.000Z');
  const tokens: Record<string, string> = {};
  const clients: MqttClient[] = [];
  let agent: Agent | undefined;

  /** POST /api/v1/enrol as anyone: no bearer, any body text. */
  const redeem = async (body: unknown, raw = false) => {
    const res = await fetch(`${hub.urls.http}/api/v1/enrol`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: raw ? (body as string) : JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as any, headers: res.headers };
  };
  const refused = (outcome: string) => hub.metrics.get('edgefleet_enrolment_redemptions_total', { outcome });
  const works = (id: string, password: string) =>
    connectDevice(hub.urls.mqtt!, id, password).then(
      (c) => {
        clients.push(c);
        return true;
      },
      () => false,
    );

  beforeAll(async () => {
    dir = tempDir('edgefleet-enrol-');
    hub = await startTestHub(dir.path, { now: () => new Date(clock) });
    admin = apiClient(hub.urls.http, hub.adminToken);
    for (const id of ['phone-1', 'phone-2', 'phone-3', 'phone-4']) tokens[id] = (await admin.post('/devices', { id })).body.token;
  });
  // every test starts with a full rate-limit bucket: the fake clock moves on by an hour
  beforeEach(() => void (clock += 3_600_000));
  afterAll(async () => {
    await agent?.stop();
    await Promise.all(clients.map(endClient));
    await hub.close();
    dir.remove();
  });

  it('trades a code once for a config a real agent connects with; the old token stops working', async () => {
    const old = await connectDevice(hub.urls.mqtt!, 'phone-1', tokens['phone-1']!);
    clients.push(old);
    const kicked = new Promise<void>((r) => old.once('close', () => r()));

    const link = await admin.post('/devices/phone-1/enrolment');
    expect(link.status).toBe(201);
    expect(link.body.code).toMatch(/^[A-Za-z0-9_-]{43}$/); // 256 random bits
    expect(link.body.url).toBe(`${hub.urls.http}/device/#enrol=${link.body.code}`);
    expect(Date.parse(link.body.expiresAt) - clock).toBe(15 * 60_000);

    const first = await redeem({ code: link.body.code });
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toBe('no-store');
    const config = first.body.agentConfig;
    expect(first.body.deviceId).toBe('phone-1');
    expect(config).toMatchObject({ deviceId: 'phone-1', username: 'phone-1', hubUrl: hub.urls.http, brokers: { tcp: hub.urls.mqtt, ws: `${hub.urls.http.replace('http', 'ws')}/mqtt` } });
    expect(config.password).not.toBe(tokens['phone-1']);

    await kicked; // the connection on the old token is closed at once
    expect(await works('phone-1', tokens['phone-1']!)).toBe(false);
    agent = createAgent(config, { dataDir: join(dir.path, 'agent'), api: false, reconnect: { initialMs: 50, maxMs: 500 } });
    await agent.start();
    await waitFor(async () => {
      const d = (await admin.get('/devices/phone-1')).body.device;
      return d.status === 'online' && d.reported?.deviceId === 'phone-1';
    }, 'the agent online with its reported state');

    // a second redemption: refused, and the agent's token still works
    const again = await redeem({ code: link.body.code });
    expect(again.status).toBe(404);
    expect(again.body.error).toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/used already/) });
    expect(refused('used')).toBe(1);
    expect(await works('phone-1', config.password)).toBe(true);
    await agent.stop();
    agent = undefined;

    // audited; the code itself is nowhere in the database, only its hash
    const actions = (await hub.services.ctx.store.listAudit()).map((e) => `${e.actor} ${e.action}`);
    expect(actions).toEqual(expect.arrayContaining([expect.stringMatching(/^token:t-\S+ device\.enrolment$/), 'device:phone-1 device.token']));
    for (const f of ['hub.db', 'hub.db-wal']) {
      const file = join(dir.path, f);
      if (existsSync(file)) expect(readFileSync(file).includes(Buffer.from(link.body.code))).toBe(false);
    }
  });

  it('refuses an expired code and changes nothing; the lifetime is bounded', async () => {
    const link = await admin.post('/devices/phone-2/enrolment', { ttl: '1m' });
    expect(link.status).toBe(201);
    clock += 60_000;
    const late = await redeem({ code: link.body.code });
    expect(late.status).toBe(404);
    expect(late.body.error).toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/expired/) });
    expect(refused('expired')).toBe(1);
    expect(await works('phone-2', tokens['phone-2']!)).toBe(true);

    for (const ttl of ['30s', '25h', 'soon', 10]) {
      const r = await admin.post('/devices/phone-2/enrolment', { ttl });
      expect(r.status, String(ttl)).toBe(400);
      expect(r.body.error.code).toBe('BAD_INPUT');
    }
    expect((await admin.post('/devices/phone-2/enrolment', { ttl: '24h' })).status).toBe(201);
    expect((await admin.post('/devices/nobody/enrolment')).body.error.code).toBe('NOT_FOUND');
  });

  it('lets an operator create a code, not a viewer nor an anonymous caller', async () => {
    const viewer = apiClient(hub.urls.http, (await admin.post('/tokens', { role: 'viewer' })).body.token);
    const operator = apiClient(hub.urls.http, (await admin.post('/tokens', { role: 'operator' })).body.token);
    const denied = await viewer.post('/devices/phone-3/enrolment');
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('FORBIDDEN');
    const anonymous = await fetch(`${hub.urls.http}/api/v1/devices/phone-3/enrolment`, { method: 'POST' });
    expect(anonymous.status).toBe(401);
    expect((await operator.post('/devices/phone-3/enrolment')).status).toBe(201);
  });

  it('refuses malformed bodies and codes with their codes, counted, nothing changed', async () => {
    const cases: Array<[unknown, boolean, number, string]> = [
      ['{ not json', true, 400, 'BAD_JSON'],
      [{}, false, 400, 'BAD_INPUT'],
      [{ code: 42 }, false, 400, 'BAD_INPUT'],
      [{ code: 'x'.repeat(2000) }, false, 413, 'TOO_LARGE'],
      [{ code: 'short' }, false, 404, 'NOT_FOUND'],
      [{ code: 'A'.repeat(43) }, false, 404, 'NOT_FOUND'],
    ];
    for (const [body, raw, status, code] of cases) {
      const r = await redeem(body, raw);
      expect([r.status, r.body.error?.code], JSON.stringify(body).slice(0, 40)).toEqual([status, code]);
    }
    expect(refused('malformed')).toBe(1);
    expect(refused('unknown')).toBe(1);
    expect(hub.metrics.get('edgefleet_http_refused_total', { code: 'TOO_LARGE' })).toBeGreaterThanOrEqual(1);
    expect(await works('phone-3', tokens['phone-3']!)).toBe(true);
  });

  it('limits redemption attempts per source address: the 11th guess in a row is refused, even with a good code', async () => {
    const link = await admin.post('/devices/phone-4/enrolment', { ttl: '1h' });
    const guess = () => redeem({ code: 'B'.repeat(43) });
    for (let i = 0; i < 10; i++) expect((await guess()).status).toBe(404);
    const limited = await guess();
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('RATE_LIMITED');
    const good = await redeem({ code: link.body.code });
    expect(good.status).toBe(429);
    expect(refused('rate-limited')).toBe(2);
    expect(await works('phone-4', tokens['phone-4']!)).toBe(true); // the good code was not used

    clock += 30_000; // one attempt back
    expect((await redeem({ code: link.body.code })).status).toBe(200);
    expect((await guess()).status).toBe(429);
  });
});
