// The end-to-end suite against a real Mosquitto in `--broker` mode, with the ACL of hub/mosquitto/acl
// and the password file the hub writes and reloads (SIGHUP to mosquitto's pid_file) on every device change.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '@edgefleet/hub';
import { startHub } from '@edgefleet/hub';
import { topics } from '@edgefleet/protocol';
import { runEndToEnd } from './e2e-suite.js';
import { MOSQUITTO, startMosquitto, type MosquittoProcess } from './processes.js';
import { apiClient, connectDevice, endClient, startTestHub, tempDir, waitFor } from './helpers.js';
import { TEST_KEK, testDb } from './support/test-db.js';

const HUB_PASSWORD = 'hub-secret-for-tests-only';

describe.skipIf(!existsSync(MOSQUITTO))('end to end with Mosquitto (--broker)', () => {
  let dir: ReturnType<typeof tempDir>;
  let broker: MosquittoProcess;
  let hub: Hub;
  let port = 0;

  beforeAll(async () => {
    dir = tempDir();
    broker = await startMosquitto(dir.path, HUB_PASSWORD);
    port = broker.port;
    const db = await testDb(join(dir.path, 'hub'));
    hub = await startHub({
      dataDir: join(dir.path, 'hub'),
      ...(db ? { db, keys: { encryptionKey: TEST_KEK } } : {}),
      http: '127.0.0.1:0',
      broker: broker.hubUrl,
      mosquittoPasswordFile: broker.passwd,
      mosquittoPidFile: broker.pidFile,
    });
  });
  afterAll(async () => {
    await hub?.close();
    await broker?.stop();
    dir?.remove();
  });

  it('a device added, pushed to and deployed to verifies its desired state and fetches the exact artifact', async () => {
    expect(hub.urls.mqtt).toBeUndefined();
    // no reload by hand: the hub sent mosquitto SIGHUP after writing the new device's credentials
    await runEndToEnd({ httpUrl: hub.urls.http, adminToken: hub.adminToken }, 'dev-mq');
    expect(hub.metrics.get('edgefleet_mosquitto_reloads_total', { outcome: 'ok' })).toBeGreaterThan(0);
  });

  it('enforces the ACL: no other device’s topics, no wildcards across devices, and removal disconnects the device at once', async () => {
    const api = apiClient(hub.urls.http, hub.adminToken);
    const token = (await api.post('/devices', { id: 'dev-mq2' })).body.token as string;
    const url = `mqtt://127.0.0.1:${port}`;
    const c = await waitFor(() => connectDevice(url, 'dev-mq2', token).catch(() => null), 'dev-mq2 connects');
    // Mosquitto acknowledges any subscription and enforces `read` rules on delivery: subscribe to the
    // forbidden filters first, the keyring last; once the retained keyring arrives, retained messages of
    // the earlier filters would have arrived before it.
    const got: string[] = [];
    c.on('message', (t) => got.push(t));
    for (const f of [topics.desired('dev-mq'), 'ef/v1/devices/+/desired', '#', topics.keyring()]) await c.subscribeAsync(f, { qos: 1 });
    await waitFor(() => got.includes(topics.keyring()), 'retained keyring');
    expect(got.filter((t) => t !== topics.keyring())).toEqual([]);
    // a publish on another device's behalf is dropped; the device's own event, sent after it, is stored
    await c.publishAsync(topics.reported('dev-mq'), JSON.stringify({ forged: true }), { qos: 1 });
    await c.publishAsync(topics.events('dev-mq2'), JSON.stringify({ type: 'error', message: 'probe', at: new Date().toISOString() }), { qos: 1 });
    await waitFor(async () => {
      await hub.flush();
      return (await api.get('/devices/dev-mq2')).body.events.length === 1;
    }, 'own event stored');
    expect(hub.metrics.get('edgefleet_rejected_messages_total', { reason: 'BAD_MESSAGE', topic: 'reported' })).toBe(0);
    expect((await api.get('/devices/dev-mq')).body.device.reported.models.tiny.active.version).toBe('1.0.0');
    await expect(connectDevice(url, 'dev-mq2', 'wrong-password-123')).rejects.toThrow();
    // removal: the hub rewrites the password file and reloads mosquitto, which closes the live connection
    let closed = false;
    c.on('close', () => (closed = true));
    await api.del('/devices/dev-mq2');
    await waitFor(() => closed, 'the removed device disconnected by the broker');
    await endClient(c);
    await waitFor(
      () =>
        connectDevice(url, 'dev-mq2', token).then(
          async (again) => {
            await endClient(again);
            return false;
          },
          () => true,
        ),
      'removed device refused',
    );
  });

  it('keeps a device change when mosquitto cannot be reloaded (no pid file, not a pid), counts and logs the failure', async () => {
    const d = tempDir();
    const lines: string[] = [];
    const passwd = join(d.path, 'passwd');
    const pid = join(d.path, 'mosquitto.pid'); // absent at first
    const other = await startTestHub(join(d.path, 'hub'), { mosquittoPasswordFile: passwd, mosquittoPidFile: pid, log: (l) => lines.push(l) });
    try {
      const api = apiClient(other.urls.http, other.adminToken);
      expect((await api.post('/devices', { id: 'dev-nopid' })).status).toBe(201);
      writeFileSync(pid, 'mosquitto\n');
      expect((await api.post('/devices', { id: 'dev-badpid' })).status).toBe(201);
      // both devices are registered and in the password file; nothing was signalled
      const file = readFileSync(passwd, 'utf8');
      for (const id of ['dev-nopid', 'dev-badpid']) expect(file).toMatch(new RegExp(`^${id}:\\$7\\$`, 'm'));
      expect(other.metrics.get('edgefleet_mosquitto_reloads_total', { outcome: 'ok' })).toBe(0);
      expect(other.metrics.get('edgefleet_mosquitto_reloads_total', { outcome: 'failed' })).toBe(3); // start + two adds
      expect(lines.filter((l) => l.startsWith('mosquitto reload failed'))).toHaveLength(3);
      expect(lines.at(-1)).toContain('does not hold a process id');
    } finally {
      await other.close();
      d.remove();
    }
  });
});
