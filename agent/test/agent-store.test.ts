// The AgentStore contract (STYLE: one suite, every implementation): the SQLite + files store of the Node
// agent and the in-memory reference store answer the same way. The suite itself is
// `@edgefleet/agent/testing` (agent/src/testing/store-contract.ts); the browser's IndexedDB store runs it too.

import { storeContract } from '@edgefleet/agent/testing';
import { createMemoryStore } from '../src/core/memory-store.js';
import { openSqliteStore } from '../src/node/sqlite-store.js';
import { tmpDir } from './support/fleet-harness.js';

storeContract('memory', () => ({ store: createMemoryStore({ freeBytes: 1e9 }) }));

storeContract('sqlite', () => {
  const dir = tmpDir();
  return { store: openSqliteStore({ dataDir: dir }), reopen: () => openSqliteStore({ dataDir: dir }) };
});
