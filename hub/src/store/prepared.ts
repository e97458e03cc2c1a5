// One domain's statements prepared once per database: the per-domain SQL files (telemetry.ts, events.ts,
// fleet.ts) export a factory that takes the store and returns typed methods over its `Db`.

import type { Db } from './db.js';

export function preparedPerDb<T>(prepare: (db: Db) => T): (store: { readonly db: Db }) => T {
  const cache = new WeakMap<Db, T>();
  return (store) => {
    let sql = cache.get(store.db);
    if (!sql) cache.set(store.db, (sql = prepare(store.db)));
    return sql;
  };
}
