// The rollout API's refusals and bookkeeping without agents (design §7): plan validation, roles, all-at-once
// rollouts have nothing to pause, a new rollout supersedes the running one (audited), late joiners by tag.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '@edgefleet/hub';
import { apiClient, startTestHub, tempDir, tinyModel } from './helpers.js';

describe('rollout API', () => {
  let hub: Hub;
  let dir: ReturnType<typeof tempDir>;
  let api: ReturnType<typeof apiClient>;
  const desiredVersions = async (id: string) => {
    const d = (await api.get(`/devices/${id}/desired`)).body;
    return d.desired.models.map((m: { manifest: { payload: string } }) => JSON.parse(Buffer.from(m.manifest.payload, 'base64').toString('utf8')).version);
  };

  beforeAll(async () => {
    dir = tempDir();
    hub = await startTestHub(dir.path, { mqtt: null, ws: null, rolloutTickMs: 50 });
    api = apiClient(hub.urls.http, hub.adminToken);
    for (const v of ['1.0.0', '1.1.0']) expect((await api.pushModel(tinyModel(Number(v[2])), { name: 'tiny', version: v })).status).toBe(201);
    for (let i = 0; i < 10; i++) await api.post('/devices', { id: `dev-${i}`, tags: { ring: 'a' } });
  });
  afterAll(async () => {
    await hub.close();
    dir.remove();
  });

  it('refuses plans that cannot run, with BAD_INPUT and nothing stored', async () => {
    const base = { model: 'tiny', version: '1.0.0', targets: { all: true } };
    for (const bad of [
      { waves: [10, 5, 100] },
      { waves: [10, 50] },
      { soak: 'ten minutes' },
      { gates: { maxLatency: 3 } },
      { gates: { maxErrorRate: 2 } },
      { gates: { requireVerdict: ['vibes'] } },
      { onFail: 'explode' },
    ]) {
      const res = await api.post('/rollouts', { ...base, ...bad });
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.body.error.code).toBe('BAD_INPUT');
    }
    expect((await api.get('/rollouts')).body.rollouts).toEqual([]);
  });

  it('starts the first wave at once, pauses and resumes for operators only, and a new rollout supersedes it', async () => {
    const viewer = apiClient(hub.urls.http, (await api.post('/tokens', { role: 'viewer' })).body.token);
    const r = (await api.post('/rollouts', { model: 'tiny', version: '1.0.0', targets: { tags: [{ ring: 'a' }] }, waves: [20, 100], soak: '1h' })).body.rollout;
    expect(r.status).toBe('running');
    expect(r.plan).toMatchObject({ waves: [20, 100], soakMs: 3_600_000, onFail: 'pause' });
    expect(r.waves).toHaveLength(1);
    // at least ceil(20 % of 10) devices, more when the stable hash puts more under 20 %; none reported yet
    expect(r.waves[0].counts.total).toBeGreaterThanOrEqual(2);
    expect(r.waves[0].counts.total).toBeLessThan(10);
    expect(r.waves[0].counts.pending).toBe(r.waves[0].counts.total);
    expect(r.gates).toEqual([]);
    expect((await viewer.post(`/rollouts/${r.id}/pause`)).status).toBe(403);
    const paused = await api.post(`/rollouts/${r.id}/pause`, { reason: 'night shift' });
    expect(paused.body.rollout).toMatchObject({ status: 'paused', pausedReason: 'night shift' });
    expect((await api.post(`/rollouts/${r.id}/pause`)).body.error.code).toBe('CONFLICT');
    expect((await api.post(`/rollouts/${r.id}/promote`)).body.error.code).toBe('CONFLICT'); // not a shadow
    expect((await api.post(`/rollouts/${r.id}/resume`)).body.rollout.status).toBe('running');

    const next = (await api.post('/rollouts', { model: 'tiny', version: '1.1.0', targets: { tags: [{ ring: 'a' }] }, waves: [50, 100], soak: '1h' })).body.rollout;
    const old = (await api.get(`/rollouts/${r.id}`)).body.rollout;
    expect(old).toMatchObject({ status: 'superseded', supersededBy: next.id });
    const actions = (await hub.services.ctx.store.listAudit()).filter((a) => a.details.includes(r.id)).map((a) => a.action);
    expect(actions).toEqual(expect.arrayContaining(['rollout.start', 'rollout.wave-started', 'rollout.pause', 'rollout.resume', 'rollout.superseded']));
    // the superseded rollout's first wave keeps 1.0.0 until the new one reaches those devices
    for (const id of old.waves[0].byOutcome.pending as string[]) {
      const reached = (next.waves[0].byOutcome.pending as string[]).includes(id);
      expect(await desiredVersions(id)).toEqual([reached ? '1.1.0' : '1.0.0']);
    }
    // abort returns every device it reached to what it ran before
    const aborted = (await api.post(`/rollouts/${next.id}/abort`)).body.rollout;
    expect(aborted.status).toBe('aborted');
    for (const id of next.waves[0].byOutcome.pending as string[]) {
      const before = (old.waves[0].byOutcome.pending as string[]).includes(id);
      const d = (await api.get(`/devices/${id}/desired`)).body;
      expect(d.desired.models.length ? await desiredVersions(id) : [], id).toEqual(before ? ['1.0.0'] : []);
    }
  });

  it('keeps waves 100 / soak 0 all at once (nothing to pause), and gives late joiners a completed gated rollout at once', async () => {
    const once = (await api.post('/rollouts', { model: 'tiny', version: '1.0.0', targets: { tags: [{ ring: 'b' }] }, waves: [100], soak: 0 })).body.rollout;
    expect(once).toMatchObject({ status: 'completed', plan: null, waves: [] });
    expect((await api.post(`/rollouts/${once.id}/pause`)).body.error.code).toBe('CONFLICT');
    // a gated rollout to an empty target set completes at once; a device joining later gets the version
    const gated = (await api.post('/rollouts', { model: 'tiny', version: '1.1.0', targets: { tags: [{ ring: 'c' }] }, waves: [10, 100], soak: '1h' })).body.rollout;
    expect(gated.status).toBe('completed');
    await api.post('/devices', { id: 'dev-late', tags: { ring: 'c' } });
    expect(await desiredVersions('dev-late')).toEqual(['1.1.0']);
    const seq = (await api.get('/devices/dev-late/desired')).body.sequence;
    // the engine records the late joiner on its next ticks without sending it again
    await new Promise((r) => setTimeout(r, 300));
    expect((await api.get('/devices/dev-late/desired')).body.sequence).toBe(seq);
    const actions = (await hub.services.ctx.store.listAudit()).filter((a) => a.details.includes(gated.id)).map((a) => a.action);
    expect(actions).toContain('rollout.late-join');
  });
});
