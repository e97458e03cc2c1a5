// End to end against the embedded aedes broker.
import { afterEach, describe, it } from 'vitest';
import type { Hub } from '@edgefleet/hub';
import { runEndToEnd } from './e2e-suite.js';
import { startTestHub, tempDir } from './helpers.js';

describe('end to end with the embedded broker', () => {
  let hub: Hub | undefined;
  let dir: ReturnType<typeof tempDir> | undefined;
  afterEach(async () => {
    await hub?.close();
    dir?.remove();
  });

  it('a device added, pushed to and deployed to verifies its desired state and fetches the exact artifact', async () => {
    dir = tempDir();
    hub = await startTestHub(dir.path);
    await runEndToEnd({ httpUrl: hub.urls.http, adminToken: hub.adminToken }, 'dev-e2e');
  });
});
