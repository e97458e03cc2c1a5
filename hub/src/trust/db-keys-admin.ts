// `edgefleet keys init --db` and `keys rotate` against a PostgreSQL database (design §8 replicas): open the
// store, run db-keys.ts, close. Running hubs pick a change up on their next reload (trust/hub-secrets.ts).

import { join } from 'node:path';
import { EdgefleetError, type Keyring } from '@edgefleet/protocol';
import { openStore } from '../store/index.js';
import { openDbKeys, rotateDbKey, type RotatableRole } from './db-keys.js';
import type { HubKeys } from './keys.js';
import type { KeyEncryptionKey } from './sealed.js';

async function onDatabase<T>(db: string, fn: (store: Awaited<ReturnType<typeof openStore>>) => Promise<T>): Promise<T> {
  if (!/^postgres(ql)?:\/\//.test(db)) throw new EdgefleetError('BAD_INPUT', 'keys in a database need --db postgres://… (on SQLite the keys are files: keys init --out DIR)');
  const store = await openStore(db);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** The database's keys, made (or imported from `<dataDir>/keys`) when it has none. */
export function initDbKeys(db: string, kek: KeyEncryptionKey, dataDir?: string): Promise<{ keys: HubKeys; created: boolean; imported: boolean }> {
  return onDatabase(db, async (store) => {
    const r = await openDbKeys({ store, kek, ...(dataDir ? { importDir: join(dataDir, 'keys'), webhookFile: join(dataDir, 'webhook-secret') } : {}) });
    const ids = { root: r.keys.root.keyId, release: r.keys.release.keyId, director: r.keys.director.keyId };
    if (r.created || r.imported) await store.appendAudit('cli', r.imported ? 'keys.import' : 'keys.create', { keyring: r.keys.keyring.version, ...ids });
    return { keys: r.keys, created: r.created, imported: r.imported };
  });
}

export function rotateKeyInDb(db: string, kek: KeyEncryptionKey, role: RotatableRole): Promise<{ keyId: string; retired: string; keyring: Keyring }> {
  return onDatabase(db, (store) => rotateDbKey(store, kek, role));
}
