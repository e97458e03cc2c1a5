// The agent's small documents in its store (design §5 "State lives in the data dir"), saved so that a write
// the store refuses (a full disk) never stops the agent: the value stays here, the agent goes on from memory,
// and `retry` saves it again until the store takes it. Storage faults are reported once per episode.

import { toEdgefleetError, type ErrorCode } from '@edgefleet/protocol';
import type { AgentStore, Clock } from './ports.js';

export interface DocumentSaverOptions {
  store: AgentStore;
  clock: Clock;
  log: (line: string) => void;
  /** A storage fault began (at most one call a minute): the agent emits an event with the code. */
  report: (code: ErrorCode, message: string) => void;
  count: (name: string) => void;
}

export interface DocumentSaver {
  /** Save now; false (and kept for `retry`) when the store refused. Never throws. */
  save(key: string, value: unknown): Promise<boolean>;
  /** Save what was refused before, oldest first; stops at the first refusal. */
  retry(): Promise<void>;
  readonly unsaved: number;
  /** Any other store write that failed (events, telemetry, garbage collection): logged and reported once. */
  failed(what: string, err: unknown): void;
}

export function createDocumentSaver(options: DocumentSaverOptions): DocumentSaver {
  const { store, clock, log } = options;
  const unsaved = new Map<string, unknown>();
  let fault: ErrorCode | null = null;
  let reportedAt = -Infinity;

  function failed(what: string, err: unknown): void {
    const e = toEdgefleetError(err);
    options.count('storageErrors');
    if (fault === e.code) return; // once per episode, not once per tick
    fault = e.code;
    log(`storage: ${what} failed: ${e.message}`);
    // a nearly full disk can refuse one write and take the next: at most one report a minute
    if (clock.now() - reportedAt < 60_000) return;
    reportedAt = clock.now();
    options.report(e.code, `${what} failed: ${e.message}; serving what is on disk and retrying`);
  }

  async function save(key: string, value: unknown): Promise<boolean> {
    try {
      await store.put(key, value);
      unsaved.delete(key); // any older refused value of this key is superseded
      if (fault !== null && unsaved.size === 0) {
        log('storage: writes succeed again');
        fault = null;
      }
      return true;
    } catch (err) {
      unsaved.set(key, value);
      failed(`saving ${key.split(':')[0]}`, err);
      return false;
    }
  }

  return {
    save,
    failed,
    get unsaved() {
      return unsaved.size;
    },
    async retry() {
      for (const [key, value] of [...unsaved]) {
        if (unsaved.get(key) !== value) continue; // a newer value was saved meanwhile
        if (!(await save(key, value))) return;
      }
    },
  };
}
