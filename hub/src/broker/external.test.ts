// The external broker client's session settings (design §8): what it refuses before connecting, and the
// default expiry by whether other replicas can take a hub's share.
import { describe, expect, it } from 'vitest';
import { connectBrokerClient, defaultSessionExpiry } from './external.js';

describe('broker session', () => {
  it('refuses a session expiry that MQTT 5 cannot carry, before connecting', async () => {
    for (const seconds of [-1, 1.5, 2 ** 32, Number.NaN]) {
      await expect(connectBrokerClient('mqtt://127.0.0.1:1', { clientId: 'edgefleet_hub_x', sessionExpirySeconds: seconds })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    }
  });

  it('keeps the one hub’s session a day and a replica’s (PostgreSQL) 30 s', () => {
    expect(defaultSessionExpiry('sqlite')).toBe(86_400);
    expect(defaultSessionExpiry('postgres')).toBe(30);
  });
});
