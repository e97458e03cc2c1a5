// A wave to several real agents through the real hub (design §4): the agents listen on the artifact's
// multicast topic while downloading, the hub publishes chunks there, and every agent ends up with the exact bytes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sha256Hex } from '@edgefleet/protocol';
import { startHub, type Hub } from '@edgefleet/hub';
import { createAgent, type Agent } from '@edgefleet/agent';
import { classifier, tmpDir } from './support/fleet-harness.js';
import { hubApi } from './support/hub-api.js';

const hubs: Hub[] = [];
const agents: Agent[] = [];

afterEach(async () => {
  for (const a of agents.splice(0)) await a.stop();
  for (const h of hubs.splice(0)) await h.close();
});


const FAST = { core: { retry: { baseMs: 100, maxMs: 1000 }, download: { timeoutMs: 1000 } }, reconnect: { initialMs: 50, maxMs: 500 } };

describe('artifact multicast with real agents', () => {
  it('completes a one-wave rollout to four agents with chunks multicast, every artifact byte-exact', async () => {
    const hub = await startHub({ dataDir: tmpDir('ef-hub-'), http: '127.0.0.1:0', mqtt: '127.0.0.1:0', ws: null, log: () => {} });
    hubs.push(hub);
    const model = classifier(5, 40_000); // ~1.1 MB: 17 chunks of 64 KiB
    const sha = sha256Hex(model);
    const chunkCount = Math.ceil(model.length / 65536);
    expect(chunkCount).toBeGreaterThan(8);
    const ids = ['mca-1', 'mca-2', 'mca-3', 'mca-4'];
    for (const id of ids) {
      const added = await hubApi(hub).post('/devices', { id });
      expect(added.status).toBe(201);
      const agent = createAgent(added.body.agentConfig, { ...FAST, dataDir: tmpDir(), api: false });
      agents.push(agent);
      await agent.start();
    }
    const form = new FormData();
    form.set('file', new Blob([model]), 'model.onnx');
    form.set('name', 'm');
    form.set('version', '1.0.0');
    expect((await hubApi(hub).post('/models', form)).status).toBe(201);
    expect((await hubApi(hub).post('/rollouts', { model: 'm', version: '1.0.0', targets: { all: true }, waves: [100], soak: 0 })).status).toBe(201);
    for (const a of agents) await a.core.waitFor(() => a.core.slots().m?.active?.version === '1.0.0', 60_000);

    // at least one whole pass of the artifact went out once on the multicast topic
    expect(hub.metrics.get('edgefleet_artifact_multicast_frames_total')).toBeGreaterThanOrEqual(chunkCount);
    for (const a of agents) {
      const bytes = readFileSync(join(a.dataDir, 'models', `${sha}.onnx`));
      expect(bytes.equals(Buffer.from(model))).toBe(true);
    }
  });

  it('downloads alone by unicast when the agent does not listen on the multicast topic', async () => {
    const hub = await startHub({ dataDir: tmpDir('ef-hub-'), http: '127.0.0.1:0', mqtt: '127.0.0.1:0', ws: null, log: () => {} });
    hubs.push(hub);
    const model = classifier(6, 20_000);
    const added = await hubApi(hub).post('/devices', { id: 'mca-solo' });
    const agent = createAgent(added.body.agentConfig, { ...FAST, core: { ...FAST.core, download: { ...FAST.core.download, multicast: false } }, dataDir: tmpDir(), api: false });
    agents.push(agent);
    await agent.start();
    const form = new FormData();
    form.set('file', new Blob([model]), 'model.onnx');
    form.set('name', 'm');
    form.set('version', '1.0.0');
    expect((await hubApi(hub).post('/models', form)).status).toBe(201);
    expect((await hubApi(hub).post('/rollouts', { model: 'm', version: '1.0.0', targets: { all: true }, waves: [100], soak: 0 })).status).toBe(201);
    await agent.core.waitFor(() => agent.core.slots().m?.active?.version === '1.0.0', 60_000);
    expect(hub.metrics.get('edgefleet_artifact_multicast_frames_total')).toBe(0);
    expect(readFileSync(join(agent.dataDir, 'models', `${sha256Hex(model)}.onnx`)).equals(Buffer.from(model))).toBe(true);
  });
});
