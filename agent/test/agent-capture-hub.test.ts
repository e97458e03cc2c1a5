// Field-data capture end to end (design §4 capture): the hub's signed policy reaches a real agent, the agent
// captures while the hub is down, restarts, and once the hub is back every captured row is stored exactly once;
// the hub's export of that model version equals the stream the agent was given, redacted field absent, and the
// hub's drift still counts that field (its window bins arrive, its moments do not).

import { afterEach, describe, expect, it } from 'vitest';
import { startHub, type Hub } from '@edgefleet/hub';
import { createAgent, type Agent } from '@edgefleet/agent';
import { classifier, floats, FEATURES, tmpDir } from './support/fleet-harness.js';
import { hubApi } from './support/hub-api.js';

const hubs: Hub[] = [];
const agents: Agent[] = [];

afterEach(async () => {
  for (const a of agents.splice(0)) await a.stop();
  for (const h of hubs.splice(0)) await h.close();
});

const FAST = { core: { retry: { baseMs: 100, maxMs: 1000 }, download: { timeoutMs: 500 } }, reconnect: { initialMs: 50, maxMs: 500 } };
const CAPTURE = { capture: [{ model: 'm', rate: 1, redact: ['f1'] }] };

async function hubAt(dataDir: string, http = '127.0.0.1:0', mqtt = '127.0.0.1:0'): Promise<Hub> {
  const hub = await startHub({ dataDir, http, mqtt, log: () => {}, telemetry: CAPTURE });
  hubs.push(hub);
  return hub;
}

const reference = {
  n: 100,
  features: Array.from({ length: FEATURES }, (_, i) => ({ name: `f${i}`, source: { input: 'features', index: i }, edges: [-0.5, 0, 0.5], counts: [25, 25, 25, 25], mean: 0, std: 0.6 })),
};

describe('capture through the real hub', () => {
  it('stores rows captured offline across an agent restart exactly once, and exports them as captured', async () => {
    const dataDir = tmpDir('ef-hub-');
    let hub = await hubAt(dataDir);
    const a = hubApi(hub);
    const added = await a.post('/devices', { id: 'dev-cap', tags: { site: 'b' } });
    expect(added.status).toBe(201);
    const pushed = await a.push(classifier(1), 'm', '1.0.0', { reference: JSON.stringify(reference), labels: JSON.stringify(['a', 'b', 'c']) });
    expect(pushed.status, JSON.stringify(pushed.body)).toBe(201);
    expect((await a.post('/rollouts', { model: 'm', version: '1.0.0', targets: { devices: ['dev-cap'] } })).status).toBe(201);
    const agentDir = tmpDir();
    const first = createAgent(added.body.agentConfig, { ...FAST, dataDir: agentDir, api: false });
    agents.push(first);
    await first.start();
    await first.core.waitFor(() => first.core.slots().m?.active?.version === '1.0.0', 30_000);

    const http = new URL(hub.urls.http).host;
    const mqtt = new URL(hub.urls.mqtt!).host;
    await hub.close();
    hubs.splice(hubs.indexOf(hub), 1);

    const N = 12;
    const x = (i: number) => floats(FEATURES, 500 + i);
    for (let i = 0; i < 6; i++) await first.infer('m', { features: { type: 'float32', dims: [1, FEATURES], data: x(i) } }, { id: `p${i}` });
    await first.stop();
    agents.splice(agents.indexOf(first), 1);
    const agent = createAgent(added.body.agentConfig, { ...FAST, dataDir: agentDir, api: false });
    agents.push(agent);
    await agent.start();
    for (let i = 6; i < N; i++) await agent.infer('m', { features: { type: 'float32', dims: [1, FEATURES], data: x(i) } }, { id: `p${i}` });
    await agent.core.flushTelemetry();

    hub = await hubAt(dataDir, http, mqtt);
    const b = hubApi(hub);
    const rows = async (): Promise<number> => ((await b.get('/datasets')).body.datasets[0]?.rows as number | undefined) ?? 0;
    const deadline = Date.now() + 30_000;
    while ((await rows()) < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    // a resync and another flush must not store anything twice
    await agent.core.flushTelemetry();
    await new Promise((r) => setTimeout(r, 500));
    expect(await rows()).toBe(N);
    // drift still reads the redacted feature: its window bins reach the hub's health (its moments stayed on the device)
    const driftN = async (): Promise<number | undefined> => (await b.get('/health?model=m&version=1.0.0')).body.drift?.find((d: { feature: string }) => d.feature === 'f1')?.n;
    while ((await driftN()) !== N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await driftN()).toBe(N);

    const res = await fetch(`${hub.urls.http}/api/v1/datasets/m/1.0.0/export`, { method: 'POST', headers: { authorization: `Bearer ${hub.adminToken}` } });
    expect(res.status).toBe(200);
    const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.predictionId)).toEqual(Array.from({ length: N }, (_, i) => `p${i}`));
    for (const [i, l] of lines.entries()) {
      expect(l).toMatchObject({ deviceId: 'dev-cap', model: 'm', version: '1.0.0', trigger: 'sample', label: null });
      expect(l.features).toEqual({ f0: x(i)[0], f2: x(i)[2], f3: x(i)[3] }); // f1 redacted on the device
      expect(['a', 'b', 'c']).toContain(l.prediction);
    }
  });
});
