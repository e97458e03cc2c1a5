// The hub's keys and webhook secret in PostgreSQL (design §8, several replicas on one database): created once
// by whichever replica starts first, read by every replica, sealed with the key-encryption key every replica is
// given; existing key files imported once; an altered row stops the start and changes nothing; a rotation
// reaches a running replica, which publishes the new keyring.
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgefleetError, fromBase64, topics, utf8Decode, type Envelope, type Keyring } from '@edgefleet/protocol';
import { startHub, type Hub, type HubOptions } from '@edgefleet/hub';
import { startPostgres, type PostgresServer } from '../../scripts/sim/postgres.js';
import { openStore } from '../src/store/index.js';
import { loadOrCreateKeys, openDbKeys, parseKeyEncryptionKey, rotateKeyInDb } from '../src/trust/index.js';
import { apiClient, connectDevice, endClient, TEST_KEK, tempDir, waitFor } from './helpers.js';
import { runCli } from './webhooks-support.js';

const OTHER_KEK = Buffer.alloc(32, 9).toString('base64');

let server: PostgresServer;
const dir = tempDir('edgefleet-keys-pg-');
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
  dir.remove();
});

const hubOn = (db: string, data: string, extra: Partial<HubOptions> = {}): Promise<Hub> =>
  startHub({ dataDir: join(dir.path, data), db, http: '127.0.0.1:0', mqtt: '127.0.0.1:0', ws: null, alarms: false, keys: { encryptionKey: TEST_KEK }, ...extra });

async function query<T>(db: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: db });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.end();
  }
}
const secretRows = (db: string) => query<{ name: string; value: string; version: string }>(db, 'SELECT name, value, version FROM hub_secrets ORDER BY name');
const auditActions = async (db: string) => (await query<{ action: string }>(db, 'SELECT action FROM audit ORDER BY id')).map((r) => r.action);
const keyringOf = (env: Envelope): Keyring => JSON.parse(utf8Decode(fromBase64(env.payload))) as Keyring;

async function refusal(p: Promise<unknown>): Promise<EdgefleetError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(EdgefleetError);
  return err as EdgefleetError;
}

describe('hub keys on PostgreSQL', () => {
  it('two hubs started at once on an empty database end with one set of keys, and neither writes a keys dir', async () => {
    const db = await server.createDatabase();
    const [a, b] = await Promise.all([hubOn(db, 'race-a'), hubOn(db, 'race-b')]);
    try {
      const [ka, kb] = [a.services.ctx.keys, b.services.ctx.keys];
      expect(JSON.stringify(kb.keyringEnvelope)).toBe(JSON.stringify(ka.keyringEnvelope));
      expect([kb.root.keyId, kb.release.keyId, kb.director.keyId]).toEqual([ka.root.keyId, ka.release.keyId, ka.director.keyId]);
      expect(ka.keyring.version).toBe(1);
      // what devices pin: the same root public key from either replica
      const token = a.adminToken || b.adminToken;
      const roots = await Promise.all([a, b].map(async (h, i) => (await apiClient(h.urls.http, token).post('/devices', { id: `race-${i}` })).body.agentConfig.rootPublicKey));
      expect(roots[1]).toBe(roots[0]);
      expect((await secretRows(db)).map((r) => r.name)).toEqual(['director', 'keyring', 'release', 'root', 'webhook-secret']);
      expect((await auditActions(db)).filter((x) => x === 'keys.create')).toHaveLength(1);
      for (const d of ['race-a', 'race-b']) expect(existsSync(join(dir.path, d, 'keys'))).toBe(false);
      // one webhook secret for both (what receivers check), copied into each data dir for the operator
      expect(readFileSync(join(dir.path, 'race-b', 'webhook-secret'), 'utf8')).toBe(readFileSync(join(dir.path, 'race-a', 'webhook-secret'), 'utf8'));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('four replicas opening an empty table at once make exactly one set', async () => {
    const db = await server.createDatabase();
    const kek = parseKeyEncryptionKey(TEST_KEK, 'test');
    const stores = await Promise.all([0, 1, 2, 3].map(() => openStore(db)));
    try {
      const opened = await Promise.all(stores.map((store) => openDbKeys({ store, kek })));
      expect(opened.filter((o) => o.created)).toHaveLength(1);
      expect(new Set(opened.map((o) => o.keys.root.keyId)).size).toBe(1);
      expect(new Set(opened.map((o) => JSON.stringify(o.keys.keyringEnvelope))).size).toBe(1);
      expect(new Set(opened.map((o) => o.webhookSecret)).size).toBe(1);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('imports the key files of a one-hub data dir once, then reads only the database', async () => {
    const db = await server.createDatabase();
    const data = join(dir.path, 'import-a');
    const files = loadOrCreateKeys(join(data, 'keys')).keys; // what `keys init --out` or a SQLite hub made
    writeFileSync(join(data, 'webhook-secret'), 'the-old-webhook-secret\n', { mode: 0o600 });
    const logs: string[] = [];
    let hub = await hubOn(db, 'import-a', { log: (l) => logs.push(l) });
    try {
      const k = hub.services.ctx.keys;
      expect([k.root.keyId, k.release.keyId, k.director.keyId]).toEqual([files.root.keyId, files.release.keyId, files.director.keyId]);
      expect(JSON.stringify(k.keyringEnvelope)).toBe(JSON.stringify(files.keyringEnvelope)); // devices keep trusting it
      expect(logs.some((l) => l.startsWith('imported the keys of'))).toBe(true);
    } finally {
      await hub.close();
    }
    // the files are not read again: other key files there change nothing
    cpSync(join(dir.path, 'other-keys'), join(data, 'keys'), { recursive: true, force: true, errorOnExist: false });
    hub = await hubOn(db, 'import-a');
    const second = await hubOn(db, 'import-b'); // a new replica without any keys dir
    try {
      expect(hub.services.ctx.keys.root.keyId).toBe(files.root.keyId);
      expect(second.services.ctx.keys.root.keyId).toBe(files.root.keyId);
      expect(JSON.stringify(second.services.ctx.keys.keyringEnvelope)).toBe(JSON.stringify(files.keyringEnvelope));
      // the imported webhook secret is the one every replica signs with
      expect(readFileSync(join(dir.path, 'import-b', 'webhook-secret'), 'utf8').trim()).toBe('the-old-webhook-secret');
      expect((await auditActions(db)).filter((x) => x === 'keys.create')).toHaveLength(1);
    } finally {
      await Promise.all([hub.close(), second.close()]);
    }
  });

  it('refuses to start on an altered key row, a wrong key-encryption key or none, and changes nothing', async () => {
    const db = await server.createDatabase();
    await (await hubOn(db, 'tamper-a')).close();
    const before = await secretRows(db);
    const audit = await auditActions(db);

    expect((await refusal(hubOn(db, 'tamper-b', { keys: {} }))).code).toBe('BAD_INPUT');
    const wrong = await refusal(hubOn(db, 'tamper-b', { keys: { encryptionKey: OTHER_KEK } }));
    expect(wrong.code).toBe('UNAUTHORIZED');
    expect(wrong.message).toMatch(/sealed with key-encryption key [0-9a-f]{16}/);

    // one bit of the release key's ciphertext
    const release = before.find((r) => r.name === 'release')!;
    const sealed = JSON.parse(release.value) as { secret: { data: string } };
    const bytes = Buffer.from(sealed.secret.data, 'base64');
    bytes[5] = bytes[5]! ^ 1;
    const altered = JSON.stringify({ ...sealed, secret: { ...sealed.secret, data: bytes.toString('base64') } });
    await query(db, 'UPDATE hub_secrets SET value = $1 WHERE name = $2', [altered, 'release']);
    const tampered = await refusal(hubOn(db, 'tamper-b'));
    expect(tampered.code).toBe('BAD_SIGNATURE');
    expect(tampered.message).toContain('"release"');

    // the director's sealed key moved into the release row: it opens for no other row
    await query(db, 'UPDATE hub_secrets SET value = (SELECT value FROM hub_secrets WHERE name = $1) WHERE name = $2', ['director', 'release']);
    expect((await refusal(hubOn(db, 'tamper-b'))).code).toBe('BAD_SIGNATURE');

    // a keyring signed by another root
    await query(db, 'UPDATE hub_secrets SET value = $1 WHERE name = $2', [release.value, 'release']);
    const foreign = loadOrCreateKeys(join(dir.path, 'foreign-keys')).keys.keyringEnvelope;
    await query(db, 'UPDATE hub_secrets SET value = $1 WHERE name = $2', [JSON.stringify(foreign), 'keyring']);
    expect((await refusal(hubOn(db, 'tamper-b'))).code).toBe('BAD_SIGNATURE');

    // a row gone: the hub does not make a new root beside the others
    await query(db, 'UPDATE hub_secrets SET value = $1 WHERE name = $2', [before.find((r) => r.name === 'keyring')!.value, 'keyring']);
    await query(db, 'DELETE FROM hub_secrets WHERE name = $1', ['root']);
    expect((await refusal(hubOn(db, 'tamper-b'))).code).toBe('CONFLICT');

    // nothing but the test's own edits changed: no row rewritten, no version bumped, nothing audited
    const after = await secretRows(db);
    expect(after).toEqual(before.filter((r) => r.name !== 'root'));
    expect(await auditActions(db)).toEqual(audit);
    expect(existsSync(join(dir.path, 'tamper-b', 'keys'))).toBe(false);
  });

  it('a rotation by the CLI reaches a running replica, which signs with the new key and publishes the new keyring', async () => {
    const db = await server.createDatabase();
    const a = await hubOn(db, 'rotate-a', { keys: { encryptionKey: TEST_KEK, reloadMs: 100 } });
    const b = await hubOn(db, 'rotate-b', { keys: { encryptionKey: TEST_KEK, reloadMs: 100 } });
    const api = apiClient(b.urls.http, a.adminToken);
    const token = (await api.post('/devices', { id: 'rot-1' })).body.token as string;
    const client = await connectDevice(b.urls.mqtt!, 'rot-1', token);
    try {
      const versions: number[] = [];
      client.on('message', (t, p) => t === topics.keyring() && versions.push(keyringOf(JSON.parse(p.toString()) as Envelope).version));
      await client.subscribeAsync(topics.keyring(), { qos: 1 });
      await waitFor(() => versions.includes(1), 'keyring v1');
      const oldDirector = b.services.ctx.keys.director.keyId;

      const kekFile = join(dir.path, 'kek');
      writeFileSync(kekFile, TEST_KEK + '\n', { mode: 0o600 });
      const r = await runCli(['keys', 'rotate', 'director', '--db', db, '--key-file', kekFile], {});
      expect(r.code, r.stderr).toBe(0);
      const newDirector = /: ([0-9a-f]{16}) signs from now on/.exec(r.stdout)?.[1];
      expect(newDirector).toBeDefined();

      for (const h of [a, b]) await waitFor(() => h.services.ctx.keys.director.keyId === newDirector, 'replica reloaded the rotated key');
      await waitFor(() => versions.includes(2), 'keyring v2 published by the replica');
      const keyring = b.services.ctx.keys.keyring;
      expect(keyring.version).toBe(2);
      // the new key signs; the old one stays listed, so desired states it signed still verify on devices
      expect(keyring.keys.filter((k) => k.roles.includes('director')).map((k) => k.keyId).sort()).toEqual([oldDirector, newDirector!].sort());
      const env = b.services.ctx.keys.directorSigner.signDocument('command', { kind: 'command', deviceId: 'rot-1' });
      expect(env.signatures.map((s) => s.keyId)).toEqual([newDirector]);
      expect(await auditActions(db)).toContain('keys.rotate');
      // a restarted replica starts from the rotated set
      await a.close();
      const again = await hubOn(db, 'rotate-a');
      expect(again.services.ctx.keys.director.keyId).toBe(newDirector);
      await again.close();
    } finally {
      await endClient(client);
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('a running replica that finds an altered row keeps signing with the keys it has, and says why', async () => {
    const db = await server.createDatabase();
    const logs: string[] = [];
    const hub = await hubOn(db, 'live-tamper', { keys: { encryptionKey: TEST_KEK, reloadMs: 100 }, log: (l) => logs.push(l) });
    try {
      const before = hub.services.ctx.keys.director.keyId;
      const foreign = loadOrCreateKeys(join(dir.path, 'live-foreign')).keys.keyringEnvelope;
      await query(db, 'UPDATE hub_secrets SET value = $1, version = version + 1 WHERE name = $2', [JSON.stringify(foreign), 'keyring']);
      await waitFor(() => logs.find((l) => l.startsWith('keys: not reloaded: BAD_SIGNATURE')), 'the refusal logged');
      expect(hub.services.ctx.keys.director.keyId).toBe(before);
      expect(keyringOf(hub.services.ctx.keys.keyringEnvelope).version).toBe(1);
    } finally {
      await hub.close();
    }
  });

  it('`keys init --db` makes the set a replica then starts with, and refuses without a key-encryption key', async () => {
    const db = await server.createDatabase();
    const kekFile = join(dir.path, 'kek-init');
    writeFileSync(kekFile, Buffer.alloc(32, 3).toString('hex') + '\n', { mode: 0o600 });
    expect((await runCli(['keys', 'init', '--db', db], { EDGEFLEET_KEY_ENCRYPTION_KEY: '' })).code).not.toBe(0);
    const r = await runCli(['keys', 'init', '--db', db, '--key-file', kekFile], {});
    expect(r.code, r.stderr).toBe(0);
    const root = /root\s+([0-9a-f]{16})/.exec(r.stdout)?.[1];
    const hub = await hubOn(db, 'init-a', { keys: { encryptionKey: readFileSync(kekFile, 'utf8') } });
    try {
      expect(hub.services.ctx.keys.root.keyId).toBe(root);
    } finally {
      await hub.close();
    }
  });
});

// a second, unrelated key set the import test lays over the imported files
beforeAll(() => {
  mkdirSync(join(dir.path, 'other-keys'), { recursive: true });
  loadOrCreateKeys(join(dir.path, 'other-keys'));
});
