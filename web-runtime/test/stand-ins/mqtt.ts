// TEMPORARY stand-in for @edgefleet/agent/mqtt (another helper's part): a transport that never connects.
import type { Transport } from '@edgefleet/agent/core';

export function createMqttTransport(_options: { urls: string[]; clientId: string }): Transport {
  return {
    connected: false,
    connect() {},
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
