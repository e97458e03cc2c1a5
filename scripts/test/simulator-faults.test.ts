// The simulator's failure injection and churn against a real hub: a broken download path is refused with
// HASH_MISMATCH and never activates, a device taken offline comes back serving its model from disk, and the
// streams produce inferences and labels.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startHub, type Hub } from '@edgefleet/hub';
import { createSimulatedFleet, type SimulatedFleet } from '../sim/fleet.js';
import { trainVibrationModels } from '../sim/models.js';

let hub: Hub | undefined;
let fleet: SimulatedFleet | undefined;
const dir = mkdtempSync(join(tmpdir(), 'edgefleet-simfaults-'));

afterAll(async () => {
  await fleet?.close();
  await hub?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('simulated faults and churn', () => {
  it('a broken download is refused (HASH_MISMATCH), churned devices come back serving from disk, streams label their predictions', async () => {
    hub = await startHub({ dataDir: join(dir, 'hub'), http: '127.0.0.1:0', mqtt: '127.0.0.1:0', ws: null });
    const { v1 } = trainVibrationModels();
    fleet = await createSimulatedFleet({
      hub: hub.urls.http,
      token: hub.adminToken,
      devices: 4,
      rate: 10,
      labelFraction: 0.5,
      dataDir: join(dir, 'fleet'),
      device: (i) => (i === 3 ? { faults: { brokenDownload: true } } : {}),
    });
    await fleet.hub.pushModel({ name: 'vibration', version: '1.0.0', file: v1.bytes, validation: v1.validation });
    await fleet.hub.startRollout({ model: 'vibration', version: '1.0.0', targets: { all: true }, waves: [100], soak: 0 });
    await fleet.waitForVersion('1.0.0', { ids: ['sim-0', 'sim-1', 'sim-2'], timeoutMs: 30_000 });

    const broken = fleet.devices[3]!.agent.core;
    await broken.waitFor((c) => c.reported().models['vibration']?.error?.code === 'HASH_MISMATCH', 30_000);
    expect(broken.slots()['vibration']?.active ?? null).toBeNull();

    // churn: offline, then back — the model is on disk, so it serves before any network round trip
    await fleet.stopDevice('sim-0');
    expect(fleet.activeVersions()['sim-0']).toBeUndefined();
    await fleet.startDevice('sim-0');
    expect(fleet.activeVersions()['sim-0']).toBe('1.0.0');

    await expect.poll(() => fleet!.totals().labels, { timeout: 10_000 }).toBeGreaterThan(0);
    const t = fleet.totals();
    expect(t.inferences).toBeGreaterThan(t.labels);
    expect(t.errors).toBe(0);
    expect(fleet.devices[3]!.stats.inferences).toBe(0); // never served: nothing unverified reaches the runtime
  });
});
