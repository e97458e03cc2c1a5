// agent.explain and POST /v2/models/{name}/explain on a real agent (design §5): the active verified model,
// offline, and at most EXPLAIN_LIMITS.concurrent at once.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXPLAIN_LIMITS, EdgefleetError } from '@edgefleet/protocol';
import { createAgent, type Agent } from '@edgefleet/agent';
import { classifier, floats, FEATURES, startHarness, type Harness } from './support/fleet-harness.js';

let h: Harness;
let agent: Agent | null = null;

beforeEach(async () => {
  h = await startHarness();
  await h.publishKeyring();
});
afterEach(async () => {
  await agent?.stop();
  agent = null;
  await h.close();
});

describe('agent explanations', () => {
  it('explain the active model in process and over HTTP, offline', async () => {
    agent = createAgent(h.agentConfig('dev-x'), { core: { retry: { baseMs: 100, maxMs: 1000 } }, reconnect: { initialMs: 50, maxMs: 400 } });
    await agent.start();
    const m = await h.manifest({ name: 'm', version: '1.0.0', release: 1, bytes: classifier(3, 8) });
    await h.desired('dev-x', [{ envelope: m.envelope }]);
    const a = agent;
    await a.core.waitFor(() => a.core.slots().m?.active?.version === '1.0.0');
    await h.down(); // no hub needed

    const x = floats(FEATURES, 5);
    const baseline = [0, 0.1, -0.1, 0.2];
    const local = await a.explain('m', { features: { type: 'float32', dims: [1, FEATURES], data: x } }, { baseline, id: 'p1' });
    expect(local).toMatchObject({ model_name: 'm', model_version: '1.0.0', id: 'p1', method: 'exact', evaluations: 16, target: { output: 'probabilities', kind: 'class' } });
    expect(local.features.map((f) => f.name)).toEqual(['f0', 'features[1]', 'features[2]', 'features[3]']);
    expect(local.features.reduce((s, f) => s + f.attribution, 0)).toBeCloseTo(local.value - local.base_value, 5);

    const res = await fetch(`${a.apiUrl}/v2/models/m/explain`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, FEATURES], data: Array.from(x) }], parameters: { baseline } }),
    });
    expect(res.status).toBe(200);
    const json = (await res.json()) as typeof local;
    expect(json.features.map((f) => f.attribution)).toEqual(local.features.map((f) => f.attribution));
    expect(json.target).toEqual(local.target);

    // f0 has a reference mean (0); the others have none, so without a baseline the request is refused
    const refused = await fetch(`${a.apiUrl}/v2/models/m/explain`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, FEATURES], data: Array.from(x) }] }),
    });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { code: string }).code).toBe('BAD_INPUT');

    expect(a.core.counters['explanations']).toBe(2);

    // bounded: beyond EXPLAIN_LIMITS.concurrent at once, refused at once with RATE_LIMITED
    const feeds = { features: { type: 'float32' as const, dims: [1, FEATURES], data: x } };
    const calls = Array.from({ length: EXPLAIN_LIMITS.concurrent + 1 }, () => a.explain('m', feeds, { baseline }).then(() => 'ok', (e: unknown) => (e as EdgefleetError).code));
    const outcomes = await Promise.all(calls);
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(EXPLAIN_LIMITS.concurrent);
    expect(outcomes.at(-1)).toBe('RATE_LIMITED');
    await expect(a.explain('nope', feeds, { baseline })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
