// The fleet simulator against a real hub (embedded aedes, SQLite): 200 real agents, each with its own MQTT
// connection and data dir, complete a rollout while sharing one onnxruntime session per model file.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startHub, type Hub } from '@edgefleet/hub';
import { createSimulatedFleet, type SimulatedFleet } from '../sim/fleet.js';
import { trainVibrationModels } from '../sim/models.js';

let hub: Hub | undefined;
let fleet: SimulatedFleet | undefined;
const dirs: string[] = [];

afterAll(async () => {
  await fleet?.close();
  await hub?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('simulated fleet', () => {
  it('200 simulated agents complete a rollout through a real hub and broker, sharing one session per model', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgefleet-simtest-'));
    dirs.push(dir);
    hub = await startHub({ dataDir: join(dir, 'hub'), http: '127.0.0.1:0', mqtt: '127.0.0.1:0', ws: null });
    const { v1 } = trainVibrationModels();
    fleet = await createSimulatedFleet({ hub: hub.urls.http, token: hub.adminToken, devices: 200, rate: 0.2, dataDir: join(dir, 'fleet') });
    const pushed = await fleet.hub.pushModel({ name: 'vibration', version: '1.0.0', file: v1.bytes, validation: v1.validation });
    await fleet.hub.startRollout({ model: 'vibration', version: '1.0.0', targets: { all: true }, waves: [100], soak: 0 });
    await fleet.waitForVersion('1.0.0', { timeoutMs: 90_000 });

    // every agent serves it, from one shared session
    expect(Object.values(fleet.activeVersions())).toEqual(new Array(200).fill('1.0.0'));
    expect(fleet.runtime.sessions()).toBe(1);
    expect(fleet.devices.every((d) => d.agent.core.slots()['vibration']?.active?.sha256 === pushed.sha256)).toBe(true);
    // and the hub sees the fleet on that version through the devices' reported states
    await expect
      .poll(async () => (await fleet!.hub.fleetStatus()).versions.find((v) => v.version === '1.0.0')?.devices, { timeout: 30_000 })
      .toBe(200);
  });
});
