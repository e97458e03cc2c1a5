// `createWebAgent`: the device agent of a browser or mobile web view (design §1, §5) — the agent core on
// IndexedDB (idb-store.ts), onnxruntime-web wasm (ort-web.ts), mqtt.js over ws(s):// and Web Crypto sha256.
// Any adapter can be handed in instead; assemble.ts does the wiring.

import { createMqttTransport } from '@edgefleet/agent/mqtt';
import { assembleWebAgent, type WebAdapters, type WebAgent, type WebAgentOptions } from './assemble.js';
import { openIndexedDbStore } from './idb-store.js';
import { createOrtWebRuntime } from './ort-web.js';
import { createSha256Stream } from './sha256.js';

export const browserAdapters: WebAdapters = {
  openStore: (options) => openIndexedDbStore(options),
  createRuntime: (options) => createOrtWebRuntime(options),
  createTransport: (options) => createMqttTransport(options),
  sha256Stream: () => createSha256Stream(),
};

/** Start the agent of this device (config: what `edgefleet device add --out` writes) with the browser's adapters. */
export function createWebAgent(options: WebAgentOptions): Promise<WebAgent> {
  return assembleWebAgent(options, browserAdapters);
}
