// Where a starting hub gets its keys and webhook secret. SQLite (one hub): files in the data dir, as always
// (keys.ts). PostgreSQL (replicas, design §8): the database (db-keys.ts), sealed with the key-encryption key
// every replica is given, re-read every `reloadMs` so a rotation on one replica or by the CLI reaches all.

import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EdgefleetError } from '@edgefleet/protocol';
import type { Store } from '../store/index.js';
import { loadOrCreateKeys, type HubKeys } from './keys.js';
import { openDbKeys } from './db-keys.js';
import { parseKeyEncryptionKey } from './sealed.js';

export interface HubKeyOptions {
  /**
   * PostgreSQL: the key-encryption key (32 bytes, base64 or hex; `--key-file` / EDGEFLEET_KEY_ENCRYPTION_KEY),
   * the same on every replica. Required there; unused on SQLite.
   */
  encryptionKey?: string;
  /** PostgreSQL: how often a replica checks the database for changed keys (default 10 s). */
  reloadMs?: number;
}

export interface HubSecrets {
  keys: HubKeys;
  created: boolean;
  renewed: boolean;
  /** The webhook secret to sign with, when this module decides it (PostgreSQL); else the caller's as given. */
  webhookSecret: string | undefined;
  /**
   * Starts re-reading the database's keys (PostgreSQL; nothing on SQLite): `onKeyring` runs after the keyring
   * changed (publish it). Returns the stop function. A change notification (LISTEN/NOTIFY) can call `reload`.
   */
  watch(onKeyring: () => Promise<void>): () => void;
  reload(): Promise<boolean>;
  /**
   * The keyring envelope to publish (JSON). PostgreSQL: the rows are read again first, so a replica
   * republishing after a broker reconnect never puts back a keyring rotated away elsewhere.
   */
  currentKeyring(): Promise<string>;
}

const KEK_HELP = 'on PostgreSQL the hub keeps its keys in the database, sealed with a key-encryption key every replica is given: --key-file FILE or EDGEFLEET_KEY_ENCRYPTION_KEY (make one: openssl rand -base64 32 > FILE)';

export async function openHubSecrets(o: { store: Store; dataDir: string; now: () => Date; log: (line: string) => void; keys?: HubKeyOptions; webhookSecret?: string }): Promise<HubSecrets> {
  const keysDir = join(o.dataDir, 'keys');
  if (o.store.engine !== 'postgres') {
    const { keys, created, renewed } = loadOrCreateKeys(keysDir, o.now());
    if (created) {
      o.log(`created root, release and director keys in ${keysDir}`);
      o.log('WARNING: the root key is on this machine; in production keep root offline (copy keys/root.json away) and sign keyrings there');
    }
    if (renewed) o.log(`signed keyring v${keys.keyring.version}`);
    return { keys, created, renewed, webhookSecret: o.webhookSecret, watch: () => () => undefined, reload: async () => false, currentKeyring: async () => JSON.stringify(keys.keyringEnvelope) };
  }
  if (!o.keys?.encryptionKey) throw new EdgefleetError('BAD_INPUT', KEK_HELP);
  const kek = parseKeyEncryptionKey(o.keys.encryptionKey, 'the key-encryption key');
  const webhookFile = join(o.dataDir, 'webhook-secret');
  const db = await openDbKeys({ store: o.store, kek, importDir: keysDir, webhookFile, now: o.now });
  if (db.imported) o.log(`imported the keys of ${keysDir} into the database (sealed with key-encryption key ${kek.id}); the files are not read again`);
  if (db.created) {
    o.log(`created root, release and director keys in the database (sealed with key-encryption key ${kek.id})`);
    o.log('WARNING: the root key is in the database; in production keep root offline and sign keyrings there');
  }
  if (!db.created && !db.imported && existsSync(join(keysDir, 'root.json'))) o.log(`keys from the database; ${keysDir} is not read (it was imported once, or the database had keys already)`);
  if (db.renewed) o.log(`signed keyring v${db.keys.keyring.version}`);
  // the operator reads the secret here to configure receivers, as on one hub; the database's value wins
  if (!o.webhookSecret && (!existsSync(webhookFile) || readFileSync(webhookFile, 'utf8').trim() !== db.webhookSecret)) {
    writeFileSync(webhookFile, db.webhookSecret + '\n', { mode: 0o600 });
    chmodSync(webhookFile, 0o600);
  }
  const reload = async () => {
    const before = db.keys.keyring.version;
    const changed = await db.reload();
    if (changed) o.log(`keys changed in the database: keyring v${before} → v${db.keys.keyring.version}`);
    return changed;
  };
  return {
    keys: db.keys,
    created: db.created || db.imported,
    renewed: db.renewed,
    webhookSecret: o.webhookSecret ?? db.webhookSecret,
    reload,
    async currentKeyring() {
      await reload().catch((err: unknown) => o.log(`keys: not reloaded: ${err instanceof Error ? err.message : String(err)}`));
      return JSON.stringify(db.keys.keyringEnvelope);
    },
    watch(onKeyring) {
      let running = false;
      const timer = setInterval(() => {
        if (running) return;
        running = true;
        reload()
          .then((changed) => (changed ? onKeyring() : undefined))
          // a row that no longer opens: keep signing with the keys this replica has, and say so
          .catch((err: unknown) => o.log(`keys: not reloaded: ${err instanceof EdgefleetError ? `${err.code}: ` : ''}${err instanceof Error ? err.message : String(err)}`))
          .finally(() => (running = false));
      }, o.keys?.reloadMs ?? 10_000);
      timer.unref();
      return () => clearInterval(timer);
    },
  };
}
