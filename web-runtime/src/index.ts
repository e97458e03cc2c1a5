// @edgefleet/web-runtime: the edgefleet agent core in a browser or mobile web view (design §1): IndexedDB
// store, onnxruntime-web runtime, mqtt.js over WebSocket.
export { openIndexedDbStore, type IndexedDbStoreOptions } from './idb-store.js';
