// Commands that run on this machine (design §2): `hub start` and `keys init`.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { RotatableRole } from '../trust/index.js';
import { CaptureRules, EdgefleetError, toBase64, type CaptureRule } from '@edgefleet/protocol';
import { usageError, type CommandSpec, type Values } from './args.js';
import { out } from './format.js';

/** `--capture FILE.json`: the capture rules (design §4 capture) every desired state carries, checked before start. */
function captureRules(file: string): CaptureRule[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw usageError(`--capture ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const r = CaptureRules.safeParse(raw);
  if (!r.success) throw usageError(`--capture ${file}: ${r.error.issues[0]?.path.join('.') ?? ''} ${r.error.issues[0]?.message ?? 'invalid'}`);
  return r.data;
}

async function hubStart(v: Values): Promise<void> {
  // the hub's face, loaded on demand: client commands should not pay for onnxruntime, aedes and SQLite at startup
  const { startHub, checkDbTarget } = await import('../index.js');
  const dataDir = resolve(v.data ?? './edgefleet-data');
  let broker = v.broker;
  if (broker) {
    // hub credentials in the URL, or from flags / environment (kept out of shell history)
    let u: URL;
    try {
      u = new URL(broker);
    } catch {
      throw new EdgefleetError('BAD_INPUT', `--broker must be a URL like mqtt://host:1883, got ${JSON.stringify(broker)}`);
    }
    const password = v['broker-password'] ?? process.env.EDGEFLEET_BROKER_PASSWORD;
    if (v['broker-username']) u.username = encodeURIComponent(v['broker-username']);
    if (password) u.password = encodeURIComponent(password);
    broker = u.toString();
  }
  const db = v.db === undefined ? undefined : checkDbTarget(v.db, process.env.EDGEFLEET_DB_PASSWORD);
  const { keyEncryptionKeyText } = await import('../trust/index.js');
  const kek = keyEncryptionKeyText({ ...(v['key-file'] ? { file: v['key-file'] } : {}), text: process.env.EDGEFLEET_KEY_ENCRYPTION_KEY ?? '' });
  const expiry = v['broker-session-expiry'];
  const hub = await startHub({
    dataDir,
    ...(db ? { db } : {}),
    // design §2 defaults
    http: v.http ?? '127.0.0.1:8080',
    mqtt: v.mqtt === 'off' ? null : (v.mqtt ?? '127.0.0.1:1883'),
    ws: v.ws === 'off' ? null : (v.ws ?? '127.0.0.1:8083'),
    ...(broker ? { broker } : {}),
    ...(v['replica-id'] ? { replicaId: v['replica-id'] } : {}),
    ...(kek ? { keys: { encryptionKey: kek } } : {}),
    ...(expiry !== undefined ? { brokerSessionExpirySeconds: Number(expiry) } : {}),
    ...(v['mosquitto-password-file'] ? { mosquittoPasswordFile: v['mosquitto-password-file'] } : {}),
    ...(v['mosquitto-pid-file'] ? { mosquittoPidFile: v['mosquitto-pid-file'] } : {}),
    ...(v['mosquitto-acl-file'] ? { mosquittoAclFile: v['mosquitto-acl-file'] } : {}),
    ...(v['public-url'] ? { publicUrl: v['public-url'] } : {}),
    ...(v.artifacts ? { artifactsDir: resolve(v.artifacts) } : {}),
    ...(v['device-isolation'] ? { deviceIsolation: true } : {}),
    ...(v['max-model-bytes'] ? { maxModelBytes: Number(v['max-model-bytes']) } : {}),
    ...(v.webhook?.length ? { webhooks: v.webhook } : {}),
    ...(v.capture ? { telemetry: { capture: captureRules(v.capture) } } : {}),
    // rollout engine ticker (tests and demos use a short one)
    ...(v['rollout-tick-ms'] ? { rolloutTickMs: Number(v['rollout-tick-ms']) } : {}),
    ...((v['webhook-secret'] ?? process.env.EDGEFLEET_WEBHOOK_SECRET) ? { webhookSecret: v['webhook-secret'] ?? process.env.EDGEFLEET_WEBHOOK_SECRET } : {}),
    log: (line) => process.stderr.write(`hub: ${line}\n`),
  });
  out(`edgefleet hub running (data ${dataDir})\n`);
  out(`  http  ${hub.urls.http}\n`);
  if (hub.urls.mqtt) out(`  mqtt  ${hub.urls.mqtt}\n`);
  if (hub.urls.ws) out(`  ws    ${hub.urls.ws}\n`);
  if (hub.urls.mqtt) out(`  page  ${hub.urls.http}/device (MQTT over WebSocket at /mqtt)\n`);
  await new Promise<void>((done) => {
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) {
        process.stderr.write(`hub: ${sig} again, exiting now\n`);
        process.exit(130);
      }
      stopping = true;
      process.stderr.write(`hub: ${sig}, shutting down\n`);
      hub.close().then(done, (err) => {
        process.stderr.write(`hub: shutdown failed: ${String(err)}\n`);
        process.exitCode = 1;
        done();
      });
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
}

/** The database of `--db` and the key-encryption key of `--key-file` / EDGEFLEET_KEY_ENCRYPTION_KEY (keys in the database). */
async function dbAndKek(v: Values) {
  const { checkDbTarget } = await import('../index.js');
  const { keyEncryptionKeyText, parseKeyEncryptionKey } = await import('../trust/index.js');
  const text = keyEncryptionKeyText({ ...(v['key-file'] ? { file: v['key-file'] } : {}), text: process.env.EDGEFLEET_KEY_ENCRYPTION_KEY ?? '' });
  if (!text) throw new EdgefleetError('BAD_INPUT', 'keys in the database are sealed with a key-encryption key: --key-file FILE or EDGEFLEET_KEY_ENCRYPTION_KEY');
  return { db: checkDbTarget(v.db!, process.env.EDGEFLEET_DB_PASSWORD), kek: parseKeyEncryptionKey(text, v['key-file'] ? `--key-file ${v['key-file']}` : 'EDGEFLEET_KEY_ENCRYPTION_KEY') };
}

async function keysInit(v: Values): Promise<void> {
  if (!v.out === !v.db) throw usageError('keys init needs --out DIR (key files, one hub on SQLite) or --db postgres://… (replicas), not both');
  let keys: import('../trust/index.js').HubKeys;
  if (v.db) {
    const { initDbKeys } = await import('../trust/index.js');
    const { db, kek } = await dbAndKek(v);
    const r = await initDbKeys(db, kek, v.data ? resolve(v.data) : undefined);
    keys = r.keys;
    out(`${r.created ? 'created' : r.imported ? `imported ${resolve(v.data!, 'keys')} as` : 'kept existing'} keys in the database (sealed with key-encryption key ${kek.id})\n`);
  } else {
    const { loadOrCreateKeys } = await import('../trust/keys.js');
    const r = loadOrCreateKeys(resolve(v.out!));
    keys = r.keys;
    out(`${r.created ? 'created' : 'kept existing'} keys in ${resolve(v.out!)}\n`);
  }
  out(`  root      ${keys.root.keyId}  (public ${toBase64(keys.root.publicKey)})\n`);
  out(`  release   ${keys.release.keyId}\n`);
  out(`  director  ${keys.director.keyId}\n`);
  out(`  keyring   v${keys.keyring.version}, expires ${keys.keyring.expiresAt}\n`);
  process.stderr.write(`warning: production keeps the root key offline; ${v.db ? 'the root key is in the database' : 'move root.json off this machine after signing the keyring'}\n`);
}

async function keysRotate(pos: string[], v: Values): Promise<void> {
  const { rotateKeyInDb } = await import('../trust/index.js');
  const { db, kek } = await dbAndKek(v);
  const r = await rotateKeyInDb(db, kek, pos[0] as RotatableRole);
  out(`rotated the ${pos[0]} key: ${r.keyId} signs from now on; ${r.retired} stays in the keyring (what it signed still verifies)\n`);
  out(`  keyring   v${r.keyring.version}, expires ${r.keyring.expiresAt}; running replicas publish it within their reload interval (10 s)\n`);
}

export const LOCAL_COMMANDS: CommandSpec[] = [
  {
    words: ['hub', 'start'],
    summary: 'Run the hub: HTTP API and dashboard, embedded MQTT broker (or --broker), rollouts, telemetry.',
    options: ['data', 'db', 'key-file', 'http', 'mqtt', 'ws', 'broker', 'broker-username', 'broker-password', 'replica-id', 'broker-session-expiry', 'mosquitto-password-file', 'mosquitto-pid-file', 'mosquitto-acl-file', 'public-url', 'artifacts', 'device-isolation', 'webhook', 'webhook-secret', 'max-model-bytes', 'capture'],
    hidden: ['rollout-tick-ms'],
    check: (v) => {
      const max = v['max-model-bytes'];
      if (max !== undefined && !(Number.isSafeInteger(Number(max)) && Number(max) > 0)) throw usageError(`--max-model-bytes must be a positive whole number, got ${JSON.stringify(max)}`);
      // the MQTT 5 Session Expiry Interval: a four-byte integer of seconds
      const expiry = v['broker-session-expiry'];
      if (expiry !== undefined && !(/^\d{1,10}$/.test(expiry) && Number(expiry) <= 0xffffffff)) throw usageError(`--broker-session-expiry must be whole seconds (0 to 4294967295), got ${JSON.stringify(expiry)}`);
      if (v.capture) captureRules(v.capture);
    },
    notes: '--mqtt off / --ws off disable a listener; secrets may come from EDGEFLEET_BROKER_PASSWORD, EDGEFLEET_WEBHOOK_SECRET and EDGEFLEET_KEY_ENCRYPTION_KEY.',
    run: async (_pos, v) => {
      await hubStart(v);
      // everything is closed; do not wait on stray handles (keep-alive sockets of clients)
      process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
    },
  },
  {
    words: ['keys', 'init'],
    summary: 'Create root, release and director keys and a root-signed keyring in DIR, or in the database of --db (kept when they exist).',
    options: ['out', 'db', 'key-file', 'data'],
    values: { out: 'DIR' },
    notes: 'With --db (PostgreSQL) the keys are sealed with --key-file; --data DIR imports DIR/keys into an empty database.',
    run: (_pos, v) => keysInit(v),
  },
  {
    words: ['keys', 'rotate'],
    summary: 'A new release or director key in the database of --db, and a root-signed keyring listing it beside the key it replaces.',
    positionals: [{ name: 'ROLE', choices: ['release', 'director'] }],
    options: ['db', 'key-file'],
    required: ['db'],
    run: (pos, v) => keysRotate(pos, v),
  },
];
