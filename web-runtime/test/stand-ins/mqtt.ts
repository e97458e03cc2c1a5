// TEMPORARY stand-in for @edgefleet/agent/mqtt (another helper's part): a transport that never connects.
import mqtt from 'mqtt';
import type { Transport } from '@edgefleet/agent/core';

/** The real transport's library, referenced so a stand-in bundle measures as big as the real one. */
export const library = (globalThis as { __edgefleetSizeProbe?: unknown }).__edgefleetSizeProbe ? mqtt.connect : null;

export function createMqttTransport(_options: { urls: string[]; clientId: string }): Transport {
  return {
    connected: false,
    connect() {
      void library;
    },
    async close() {},
    async publish() {
      throw new Error('not connected');
    },
    async subscribe() {
      throw new Error('not connected');
    },
    onMessage() {},
    onConnect() {},
    onDisconnect() {},
  };
}
