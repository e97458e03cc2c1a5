// TEMPORARY stand-in for web-runtime/src/idb-store.ts (another helper's part, merged later): the core's
// memory store under the agreed signature, so the assembly and the bundle can be tested before the merge.
import { createMemoryStore, type AgentStore } from '@edgefleet/agent/core';

export async function openIndexedDbStore(_options: { name: string; indexedDB?: IDBFactory; estimate?: () => Promise<{ quota?: number; usage?: number }> }): Promise<AgentStore> {
  return createMemoryStore();
}
