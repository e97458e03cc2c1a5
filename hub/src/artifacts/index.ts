// artifacts/: model artifacts (design §4, §7) — the content-addressed file store (store.ts), the MQTT chunk
// server with its multicast (chunks.ts) and what devices fetched (deliveries.ts; its SQL in store/deliveries.ts).
// May import: protocol, context, broker/ (multicast subscribers), store/.
export { createArtifactStore, type ArtifactStore } from './store.js';
export { createChunkServer, type ChunkServer, type ChunkServerOptions } from './chunks.js';
export { createDeliveries, type Deliveries } from './deliveries.js';
