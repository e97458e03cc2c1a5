// IndexedDB as promises, for the browser agent's store: one open, one transaction per call, and a full
// origin quota turned into DISK_FULL. A transaction's body awaits only its own requests (anything else
// lets the transaction commit under it); it settles once the transaction has committed or aborted, so a
// resolved write is a committed one and a rejected write left nothing behind.

import { EdgefleetError } from '@edgefleet/protocol';

export type Mode = 'readonly' | 'readwrite';

/** Runs one transaction for the store (refused after close, a full quota as DISK_FULL). */
export type Run = <T>(what: string, stores: string[], mode: Mode, body: (tx: IDBTransaction) => Promise<T> | T) => Promise<T>;

/** The object store of counters and small values the store's parts share (seqs, drop counts, blob ids). */
export const META = 'meta';

/** One request's result; for reads the body awaits (fire-and-forget writes need no promise). */
export function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new DOMException('request failed', 'UnknownError'));
  });
}

/** Open (creating or upgrading) a database; `upgrade` runs inside the version change transaction. */
export function openDatabase(factory: IDBFactory, name: string, version: number, upgrade: (db: IDBDatabase, from: number) => void): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const r = factory.open(name, version);
    r.onupgradeneeded = (e) => upgrade(r.result, e.oldVersion);
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new DOMException('open failed', 'UnknownError'));
    // an older connection elsewhere (another tab) is asked to close by its versionchange event; wait
    r.onblocked = () => undefined;
  });
}

/**
 * Run `body` in one transaction. Resolves with its value once the transaction has committed; rejects
 * (the transaction aborted, every write in it undone) when the body throws, a request fails, or the
 * commit itself fails (Chromium reports a full quota there, as the transaction's error).
 */
export function transact<T>(db: IDBDatabase, stores: string[], mode: Mode, body: (tx: IDBTransaction) => Promise<T> | T): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let tx: IDBTransaction;
    try {
      tx = db.transaction(stores, mode);
    } catch (err) {
      reject(err);
      return;
    }
    const outcome = (async () => body(tx))();
    outcome.catch(() => {
      try {
        tx.abort();
      } catch {
        // already finished or aborted: onabort / oncomplete settles
      }
    });
    tx.oncomplete = () => void outcome.then(resolve, reject);
    tx.onabort = () =>
      void outcome.then(
        () => reject(tx.error ?? new DOMException('transaction aborted', 'AbortError')),
        (err: unknown) => reject(isQuotaError(tx.error) ? tx.error : err),
      );
  });
}

/** The browser's "origin out of quota" (any engine; Firefox and Safari may report it on the request). */
export function isQuotaError(err: unknown): boolean {
  const name = (err as { name?: unknown } | null)?.name;
  return name === 'QuotaExceededError' || name === 'NS_ERROR_DOM_QUOTA_REACHED';
}

/** A full quota becomes DISK_FULL (design §10: a state to report and wait out); anything else as it is. */
export function asDiskFull(what: string, err: unknown): unknown {
  if (err instanceof EdgefleetError || !isQuotaError(err)) return err;
  return new EdgefleetError('DISK_FULL', `${what}: the origin's storage quota is full (${String(err)})`, { cause: err });
}

/** All keys of one first component in a `[id, n]` keyed store (the chunks of one blob). */
export function prefixRange(id: number): IDBKeyRange {
  return IDBKeyRange.bound([id, -Infinity], [id, Infinity]);
}

/**
 * A copy that owns its buffer: the caller may reuse its own, and structured cloning a subarray would
 * store the whole buffer under it (a 1 MB frame for a 64 KB chunk).
 */
export function ownBytes(bytes: Uint8Array): Uint8Array {
  return bytes.slice();
}
