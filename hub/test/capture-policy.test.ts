// Capture policies set at run time (design §4 capture, §2 `edgefleet data capture`): a real hub started with a
// `--capture` default that captures nothing and a real agent. `data capture set` makes the agent capture at
// once (a new signed desired state, no restart), with the policy's redaction; a bad policy is refused with a
// protocol code and changes nothing; `data capture rm` falls back to the default and capture stops. A rollout's own
// policy (`rollout start --capture`) applies to the devices it reaches, ahead of the version's.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '@edgefleet/agent';
import type { Hub } from '@edgefleet/hub';
import { seededClassifier, seededFloats } from '@edgefleet/protocol/testing';
import { apiClient, startTestHub, tempDir, waitFor } from './helpers.js';
import { runCli } from './webhooks-support.js';

const FEATURES = 4;
const reference = {
  n: 100,
  features: Array.from({ length: FEATURES }, (_, i) => ({ name: `f${i}`, source: { input: 'features', index: i }, edges: [-0.5, 0, 0.5], counts: [25, 25, 25, 25], mean: 0, std: 0.6 })),
};
const x = (i: number) => seededFloats(FEATURES, 700 + i);

let hub: Hub;
let agent: Agent;
let dir: ReturnType<typeof tempDir>;

const api = () => apiClient(hub.urls.http, hub.adminToken);
const cli = (args: string[]) => runCli(args, { EDGEFLEET_HUB: hub.urls.http, EDGEFLEET_TOKEN: hub.adminToken });
const hubSequence = async (): Promise<number> => (await api().get('/devices/dev-p/desired')).body.sequence as number;
/** The agent has verified and applied the hub's newest desired state. */
const applied = async (): Promise<void> => {
  const want = await hubSequence();
  await agent.core.waitFor(() => agent.core.reported().desiredSequence === want, 30_000);
};
const infer = async (ids: string[]): Promise<void> => {
  for (const [i, id] of ids.entries()) await agent.infer('m', { features: { type: 'float32', dims: [1, FEATURES], data: x(i) } }, { id });
  await agent.core.flushTelemetry();
};
async function exported(): Promise<any[]> {
  const res = await fetch(`${hub.urls.http}/api/v1/datasets/m/1.0.0/export`, { method: 'POST', headers: { authorization: `Bearer ${hub.adminToken}` } });
  return res.status === 200 ? (await res.text()).trim().split('\n').map((l) => JSON.parse(l)) : [];
}
const stored = (n: number) => waitFor(async () => (await exported()).length >= n, `${n} rows stored`, 30_000);

beforeEach(async () => {
  dir = tempDir('edgefleet-capture-policy-');
  // the hub's default (`hub start --capture`): the model captures nothing
  hub = await startTestHub(join(dir.path, 'hub'), { ws: null, log: () => {}, telemetry: { capture: [{ model: 'm', rate: 0 }] } });
  const added = await api().post('/devices', { id: 'dev-p', tags: { site: 'b' } });
  expect(added.status).toBe(201);
  const model = seededClassifier({ seed: 3, features: FEATURES, classes: 3, hidden: 0 });
  const pushed = await api().pushModel(model, { name: 'm', version: '1.0.0', reference: JSON.stringify(reference), labels: JSON.stringify(['a', 'b', 'c']) });
  expect(pushed.status, JSON.stringify(pushed.body)).toBe(201);
  expect((await api().post('/rollouts', { model: 'm', version: '1.0.0', targets: { devices: ['dev-p'] } })).status).toBe(201);
  agent = createAgent(added.body.agentConfig, {
    dataDir: join(dir.path, 'agent'),
    api: false,
    core: { retry: { baseMs: 100, maxMs: 1000 }, download: { timeoutMs: 2000 } },
    reconnect: { initialMs: 50, maxMs: 500 },
  });
  await agent.start();
  await agent.core.waitFor(() => agent.core.slots().m?.active?.version === '1.0.0', 30_000);
});

afterEach(async () => {
  await agent.stop();
  await hub.close();
  dir.remove();
});

describe('capture policies at run time', () => {
  it('set through the CLI reaches the running agent, a bad one changes nothing, removing it stops capture', async () => {
    await infer(['before-0', 'before-1']);

    const set = await cli(['data', 'capture', 'set', 'm@1.0.0', '--rate', '1', '--redact', 'f1', '--trigger', 'low-confidence=0.5', '--json']);
    expect(set.stderr).toBe('');
    expect(set.code).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ devices: 1, policy: { model: 'm', version: '1.0.0', rule: { rate: 1, redact: ['f1'], triggers: { lowConfidence: 0.5 } } } });
    // the signed desired state carries the version's rule ahead of the hub's default
    const desired = (await api().get('/devices/dev-p/desired')).body.desired;
    expect(desired.telemetry.capture.map((r: any) => [r.model, r.version, r.rate])).toEqual([['m', '1.0.0', 1], ['m', undefined, 0]]);
    await applied();
    const ids = Array.from({ length: 5 }, (_, i) => `p${i}`);
    await infer(ids);
    await stored(5);
    const rows = await exported();
    expect(rows.map((r) => r.predictionId)).toEqual(ids); // nothing from before the policy
    for (const [i, r] of rows.entries()) {
      expect(r.deviceId).toBe('dev-p');
      expect(['sample', 'low-confidence']).toContain(r.trigger);
      expect(r.features).toEqual({ f0: x(i)[0], f2: x(i)[2], f3: x(i)[3] }); // f1 redacted on the device
    }

    // refused with protocol codes, and nothing changes: not the policy, not the device's desired state, not the audit
    const seq = await hubSequence();
    const bad = await cli(['data', 'capture', 'set', 'm@1.0.0', '--rate', '2']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('BAD_INPUT');
    const misspelt = await api().put('/capture-policies/m/1.0.0', { rate: 1, trigers: { lowConfidence: 0.9 } });
    expect([misspelt.status, misspelt.body.error?.code ?? misspelt.body.code]).toEqual([400, 'BAD_INPUT']);
    const unknown = await api().put('/capture-policies/m/9.9.9', { rate: 1 });
    expect(unknown.status).toBe(404);
    expect((await api().get('/capture-policies/m/1.0.0')).body.policy.rule).toMatchObject({ rate: 1, redact: ['f1'] });
    expect(await hubSequence()).toBe(seq);
    const audit = (await hub.services.ctx.store.listAudit()).filter((r) => r.action.startsWith('capture.'));
    expect(audit.map((r) => r.action)).toEqual(['capture.set']);

    const ls = await cli(['data', 'capture', 'ls']);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/m\s+1\.0\.0\s+1\s+low-confidence<0\.5/);

    const rm = await cli(['data', 'capture', 'rm', 'm@1.0.0']);
    expect(rm.stderr).toBe('');
    expect(rm.code).toBe(0);
    expect(rm.stdout).toContain('1 device sent a new desired state');
    expect((await api().get('/devices/dev-p/desired')).body.desired.telemetry.capture).toEqual([expect.objectContaining({ model: 'm', rate: 0 })]);
    await applied();
    await infer(['after-0', 'after-1', 'after-2']);
    // capture back on for one more row: once it is stored, the batches before it were too (telemetry is in order)
    expect((await api().put('/capture-policies/m/1.0.0', { rate: 1 })).status).toBe(200);
    await applied();
    await infer(['last']);
    await stored(6);
    expect((await exported()).map((r) => r.predictionId)).toEqual([...ids, 'last']);
    expect((await hub.services.ctx.store.listAudit()).filter((r) => r.action.startsWith('capture.')).map((r) => r.action)).toEqual(['capture.set', 'capture.remove', 'capture.set']);
  });

  it('a rollout’s own policy reaches the devices it assigns, ahead of the version’s; a bad one refuses the rollout', async () => {
    const bad = join(dir.path, 'bad.json');
    writeFileSync(bad, JSON.stringify({ rate: 2 }));
    const refused = await cli(['rollout', 'start', 'm@1.0.0', '--device', 'dev-p', '--waves', '100', '--soak', '0', '--capture', bad]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('BAD_INPUT');
    expect((await api().get('/rollouts')).body.rollouts).toHaveLength(1);

    const file = join(dir.path, 'policy.json');
    writeFileSync(file, JSON.stringify({ rate: 1, redact: ['f2'] }));
    const started = await cli(['rollout', 'start', 'm@1.0.0', '--device', 'dev-p', '--waves', '100', '--soak', '0', '--capture', file, '--json']);
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    const desired = (await api().get('/devices/dev-p/desired')).body.desired;
    expect(desired.telemetry.capture[0]).toMatchObject({ model: 'm', version: '1.0.0', rate: 1, redact: ['f2'] });
    // the version's policy is behind the rollout's: no device's desired state changes
    const set = await api().put('/capture-policies/m/1.0.0', { rate: 1, redact: ['f1'] });
    expect([set.status, set.body.devices]).toEqual([200, 0]);
    await applied();
    await infer(['r0', 'r1', 'r2']);
    await stored(3);
    const rows = await exported();
    expect(rows.map((r) => r.predictionId)).toEqual(['r0', 'r1', 'r2']);
    for (const [i, r] of rows.entries()) expect(r.features).toEqual({ f0: x(i)[0], f1: x(i)[1], f3: x(i)[3] });
  });
});
