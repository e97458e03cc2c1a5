// @edgefleet/agent/testing: the agent's contract suites for other packages' tests (the browser runtime's
// IndexedDB store runs the same AgentStore suite as the memory and SQLite stores). Imports vitest, so only
// tests import it; nothing in a package's src does.
export { storeContract, type StoreUnderTest } from './store-contract.js';
