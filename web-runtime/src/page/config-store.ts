// Where the page keeps this device's agent config: IndexedDB of the origin (never a URL, never
// localStorage, which any script reads synchronously and extensions scrape): one record, `config`.

const DB = 'edgefleet-page';
const STORE = 'kv';

function open(factory: IDBFactory): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = factory.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB open failed'));
  });
}

async function run<T>(factory: IDBFactory, mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest): Promise<T> {
  const db = await open(factory);
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = fn(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result as T);
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
    });
  } finally {
    db.close();
  }
}

export function loadConfig(factory: IDBFactory = indexedDB): Promise<unknown> {
  return run(factory, 'readonly', (s) => s.get('config'));
}

export async function saveConfig(config: unknown, factory: IDBFactory = indexedDB): Promise<void> {
  await run(factory, 'readwrite', (s) => s.put(config, 'config'));
}

export async function forgetConfig(factory: IDBFactory = indexedDB): Promise<void> {
  await run(factory, 'readwrite', (s) => s.delete('config'));
}
