// End to end with the real hub: device add → model push → rollout over the hub's HTTP API, the
// agent started with the returned agentConfig, inference through the agent's local OIP API compared with
// bare onnxruntime; and a broker outage after which the hub counts every telemetry window exactly once.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startHub, type Hub } from '@edgefleet/hub';
import { createAgent, type Agent } from '@edgefleet/agent';
import { bareRun, classifier, floats, FEATURES, tmpDir } from './support/fleet-harness.js';
import { hubApi } from './support/hub-api.js';

const hubs: Hub[] = [];
const agents: Agent[] = [];

const servers: Server[] = [];

afterEach(async () => {
  for (const a of agents.splice(0)) await a.stop();
  for (const h of hubs.splice(0)) await h.close();
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** A plain static file server with HTTP range support, standing in for a CDN; `corrupt` flips a byte of what it serves. */
async function startCdn(files: Record<string, Uint8Array>) {
  const seen: Array<{ path: string; range: string | undefined; authorization: string | undefined }> = [];
  const cdn = { url: '', seen, corrupt: false };
  const server = createServer((req, res) => {
    const path = req.url ?? '';
    seen.push({ path, range: req.headers.range, authorization: req.headers.authorization });
    const file = files[path];
    if (!file) return void res.writeHead(404).end();
    const body = Buffer.from(file);
    if (cdn.corrupt) body[body.length >> 1]! ^= 0xff;
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (!m) return void res.writeHead(200, { 'content-length': body.length }).end(body);
    const start = Number(m[1]);
    const end = Math.min(Number(m[2]), body.length - 1);
    res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${body.length}`, 'content-length': end - start + 1 }).end(body.subarray(start, end + 1));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cdn.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return cdn;
}

async function hubAt(dataDir: string, http = '127.0.0.1:0', mqtt = '127.0.0.1:0', ws?: string): Promise<Hub> {
  const hub = await startHub({ dataDir, http, mqtt, ...(ws ? { ws } : {}), log: () => {} });
  hubs.push(hub);
  return hub;
}


async function inferHttp(agent: Agent, x: Float32Array, rows: number): Promise<{ model_version: string; outputs: { name: string; data: number[] }[] }> {
  const res = await fetch(`${agent.apiUrl}/v2/models/m/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: [{ name: 'features', shape: [rows, FEATURES], datatype: 'FP32', data: Array.from(x) }] }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as never;
}

const FAST = { core: { retry: { baseMs: 100, maxMs: 1000 }, download: { timeoutMs: 500 } }, reconnect: { initialMs: 50, maxMs: 500 } };

describe('agent with the real hub', () => {
  it('activates v1 pushed and rolled out through the hub, serves it like bare onnxruntime, then switches to v2', async () => {
    const hub = await hubAt(tmpDir('ef-hub-'));
    const a = hubApi(hub);
    const added = await a.post('/devices', { id: 'dev-e2e', tags: { site: 'lab' } });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    const v1 = classifier(1, 8);
    const v2 = classifier(2, 8);
    expect((await a.push(v1, 'm', '1.0.0')).status).toBe(201);
    expect((await a.post('/rollouts', { model: 'm', version: '1.0.0', targets: { devices: ['dev-e2e'] } })).status).toBe(201);

    let fetches = 0;
    const countingFetch: typeof fetch = (input, init) => {
      fetches++;
      return fetch(input, init);
    };
    const agent = createAgent(added.body.agentConfig, { ...FAST, core: { ...FAST.core, download: { ...FAST.core.download, fetch: countingFetch } }, dataDir: tmpDir(), api: '127.0.0.1:0' });
    agents.push(agent);
    await agent.start();
    await agent.core.waitFor(() => agent.core.slots().m?.active?.version === '1.0.0', 30_000);
    expect(fetches).toBe(0); // chunks came over MQTT from the hub (design §4), the primary path
    const x = floats(4 * FEATURES, 21);
    const r1 = await inferHttp(agent, x, 4);
    expect(r1.model_version).toBe('1.0.0');
    expect(r1.outputs.find((o) => o.name === 'probabilities')!.data).toEqual(Array.from((await bareRun(v1, x, 4)).probabilities));

    expect((await a.push(v2, 'm', '2.0.0')).status).toBe(201);
    expect((await a.post('/rollouts', { model: 'm', version: '2.0.0', targets: { devices: ['dev-e2e'] } })).status).toBe(201);
    await agent.core.waitFor(() => agent.core.slots().m?.active?.version === '2.0.0', 30_000);
    const r2 = await inferHttp(agent, x, 4);
    expect(r2.model_version).toBe('2.0.0');
    expect(r2.outputs.find((o) => o.name === 'probabilities')!.data).toEqual(Array.from((await bareRun(v2, x, 4)).probabilities));
    expect(r2.outputs.find((o) => o.name === 'label')!.data).toEqual(Array.from((await bareRun(v2, x, 4)).label, Number));

    // the hub sees what the agent reports
    let device = await a.get('/devices/dev-e2e');
    for (let i = 0; i < 100 && !JSON.stringify(device.body).includes('"2.0.0"'); i++) {
      await new Promise((r) => setTimeout(r, 50));
      device = await a.get('/devices/dev-e2e');
    }
    expect(JSON.stringify(device.body)).toContain('"2.0.0"');
  });

  it('keeps serving while the hub and its broker are down; once back, the hub counts every window exactly once', async () => {
    const dataDir = tmpDir('ef-hub-');
    let hub = await hubAt(dataDir);
    const a = hubApi(hub);
    const added = await a.post('/devices', { id: 'dev-out', tags: {} });
    expect(added.status).toBe(201);
    expect((await a.push(classifier(1), 'm', '1.0.0')).status).toBe(201);
    expect((await a.post('/rollouts', { model: 'm', version: '1.0.0', targets: { devices: ['dev-out'] } })).status).toBe(201);
    const agentDir = tmpDir();
    const first = createAgent(added.body.agentConfig, { ...FAST, dataDir: agentDir, api: '127.0.0.1:0' });
    await first.start();
    await first.core.waitFor(() => first.core.slots().m?.active?.version === '1.0.0', 30_000);
    await first.stop();

    const http = new URL(hub.urls.http).host;
    const mqtt = new URL(hub.urls.mqtt!).host;
    await hub.close();
    hubs.splice(hubs.indexOf(hub), 1);

    const agent = createAgent(added.body.agentConfig, { ...FAST, dataDir: agentDir, api: '127.0.0.1:0' });
    agents.push(agent);
    await agent.start();
    const N = 15;
    for (let i = 0; i < N; i++) {
      expect((await inferHttp(agent, floats(FEATURES, i), 1)).model_version).toBe('1.0.0');
      if (i % 5 === 4) await agent.core.flushTelemetry();
    }

    hub = await hubAt(dataDir, http, mqtt);
    const b = hubApi(hub);
    const counted = async (): Promise<number> => {
      const s = await b.get('/fleet/status');
      return (s.body.health as { model: string; version: string; inferences: number }[])
        .filter((v) => v.model === 'm' && v.version === '1.0.0')
        .reduce((n, v) => n + v.inferences, 0);
    };
    await agent.core.waitFor(() => agent.core.counters.windowsSent !== undefined && agent.core.counters.windowsSent >= 3, 30_000);
    const deadline = Date.now() + 20_000;
    while ((await counted()) < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    // a resync and another flush must not count anything twice
    await agent.core.flushTelemetry();
    await new Promise((r) => setTimeout(r, 500));
    expect(await counted()).toBe(N);
  });

  it('connects over WebSocket and downloads over the hub\'s HTTP range path with device Basic auth', async () => {
    const hub = await hubAt(tmpDir('ef-hub-'), '127.0.0.1:0', '127.0.0.1:0', '127.0.0.1:0');
    const a = hubApi(hub);
    const added = await a.post('/devices', { id: 'dev-ws', tags: {} });
    expect(added.body.agentConfig.brokers.ws).toMatch(/^ws:/);
    const v1 = classifier(3, 700); // ≈ 20 KB: several range requests
    expect((await a.push(v1, 'm', '1.0.0')).status).toBe(201);
    expect((await a.post('/rollouts', { model: 'm', version: '1.0.0', targets: { devices: ['dev-ws'] } })).status).toBe(201);
    const ranges: string[] = [];
    const countingFetch: typeof fetch = (input, init) => {
      ranges.push(new Headers(init?.headers).get('range') ?? '');
      return fetch(input, init);
    };
    const agent = createAgent(added.body.agentConfig, {
      ...FAST,
      brokers: ['ws'],
      core: { ...FAST.core, download: { ...FAST.core.download, prefer: 'http', fetch: countingFetch } },
      dataDir: tmpDir(),
      api: '127.0.0.1:0',
    });
    agents.push(agent);
    await agent.start();
    await agent.core.waitFor(() => agent.core.slots().m?.active?.version === '1.0.0', 30_000);
    expect(ranges.length).toBeGreaterThan(0);
    expect(ranges.every((r) => /^bytes=\d+-\d+$/.test(r))).toBe(true);
    const x = floats(FEATURES, 8);
    const r = await inferHttp(agent, x, 1);
    expect(r.outputs.find((o) => o.name === 'probabilities')!.data).toEqual(Array.from((await bareRun(v1, x, 1)).probabilities));
  });

  it('downloads from a CDN mirror named at push (no device credentials sent); a CDN serving altered bytes is caught', async () => {
    const hub = await hubAt(tmpDir('ef-hub-'));
    const a = hubApi(hub);
    const added = await a.post('/devices', { id: 'dev-cdn', tags: {} });
    const v1 = classifier(4, 700);
    const v2 = classifier(5, 700);
    const cdn = await startCdn({ '/m/1.0.0.onnx': v1, '/m/2.0.0.onnx': v2 });
    // mirrors are checked at push: http(s) only and no credentials (every device reads the manifest); nothing is stored
    for (const bad of [['ftp://cdn.example/m.onnx'], ['https://user:secret@cdn.example/m.onnx'], 'not json', ['x']]) {
      const res = await a.push(v1, 'm', '1.0.0', { urls: typeof bad === 'string' ? bad : JSON.stringify(bad) });
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(['BAD_INPUT', 'BAD_JSON']).toContain(res.body.error.code);
    }
    expect((await a.get('/models')).body.models).toEqual([]);
    const pushed = await a.push(v1, 'm', '1.0.0', { urls: JSON.stringify([`${cdn.url}/m/1.0.0.onnx`]) });
    expect(pushed.status, JSON.stringify(pushed.body)).toBe(201);
    const manifest = (await a.get('/models/m')).body.versions[0].manifest;
    expect(manifest.artifact.urls).toEqual([`${cdn.url}/m/1.0.0.onnx`, `${hub.urls.http}/api/v1/artifacts/${manifest.artifact.sha256}`]);
    expect((await a.post('/rollouts', { model: 'm', version: '1.0.0', targets: { devices: ['dev-cdn'] } })).status).toBe(201);

    const agent = createAgent(added.body.agentConfig, {
      ...FAST,
      core: { ...FAST.core, download: { ...FAST.core.download, prefer: 'http' } },
      dataDir: tmpDir(),
      api: '127.0.0.1:0',
    });
    agents.push(agent);
    await agent.start();
    await agent.core.waitFor(() => agent.core.slots().m?.active?.version === '1.0.0', 30_000);
    expect(cdn.seen.length).toBeGreaterThan(0);
    expect(cdn.seen.every((s) => s.path === '/m/1.0.0.onnx' && /^bytes=\d+-\d+$/.test(s.range ?? '') && s.authorization === undefined)).toBe(true);

    // the CDN serves altered bytes for v2: the sha256 check refuses them, v1 keeps serving; once it is fixed, v2 lands
    cdn.corrupt = true;
    expect((await a.push(v2, 'm', '2.0.0', { urls: JSON.stringify([`${cdn.url}/m/2.0.0.onnx`]) })).status).toBe(201);
    expect((await a.post('/rollouts', { model: 'm', version: '2.0.0', targets: { devices: ['dev-cdn'] } })).status).toBe(201);
    await agent.core.waitFor(() => agent.core.slots().m?.error?.code === 'HASH_MISMATCH', 30_000);
    expect(agent.core.slots().m?.active?.version).toBe('1.0.0');
    expect((await inferHttp(agent, floats(FEATURES, 3), 1)).model_version).toBe('1.0.0');
    cdn.corrupt = false;
    await agent.core.waitFor(() => agent.core.slots().m?.active?.version === '2.0.0', 30_000);
    const x = floats(FEATURES, 9);
    const r = await inferHttp(agent, x, 1);
    expect(r.outputs.find((o) => o.name === 'probabilities')!.data).toEqual(Array.from((await bareRun(v2, x, 1)).probabilities));
  });
});
