// Rollouts → desired states: late joiners, re-tagging, abort, the latest rollout per model wins.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '@edgefleet/hub';
import { apiClient, startTestHub, tempDir, tinyModel, waitFor } from './helpers.js';

describe('desired states', () => {
  let hub: Hub;
  let dir: ReturnType<typeof tempDir>;
  let api: ReturnType<typeof apiClient>;
  const desired = async (id: string) => (await api.get(`/devices/${id}/desired`)).body;
  const versions = (d: { desired: { models: Array<{ manifest: { payload: string } }> } }) =>
    d.desired.models.map((m) => (JSON.parse(Buffer.from(m.manifest.payload, 'base64').toString('utf8')) as { version: string }).version);

  beforeAll(async () => {
    dir = tempDir();
    hub = await startTestHub(dir.path, { mqtt: null, ws: null });
    api = apiClient(hub.urls.http, hub.adminToken);
    for (const v of ['1.0.0', '1.1.0']) expect((await api.pushModel(tinyModel(Number(v[2])), { name: 'tiny', version: v })).status).toBe(201);
  });
  afterAll(async () => {
    await hub.close();
    dir.remove();
  });

  it('gives a device that joins the target set later, by tag, the rolled-out version', async () => {
    await api.post('/devices', { id: 'dev-late' });
    const r = await api.post('/rollouts', { model: 'tiny', version: '1.0.0', targets: { tags: [{ ring: 'b' }] } });
    expect(r.body.rollout.devices).toBe(0);
    expect((await api.get('/devices/dev-late/desired')).status).toBe(404);
    await api.patch('/devices/dev-late', { tags: { ring: 'b' } });
    const d = await waitFor(async () => {
      const x = await api.get('/devices/dev-late/desired');
      return x.status === 200 ? x.body : null;
    }, 'desired state after re-tagging');
    expect(d.sequence).toBe(1);
    expect(versions(d)).toEqual(['1.0.0']);
    // a new device with the tag gets it at once
    await api.post('/devices', { id: 'dev-later', tags: { ring: 'b' } });
    expect(versions(await desired('dev-later'))).toEqual(['1.0.0']);
  });

  it('lets the latest rollout win, and an abort return devices to what they ran before', async () => {
    const r2 = await api.post('/rollouts', { model: 'tiny', version: '1.1.0', targets: { devices: ['dev-late'] } });
    expect(r2.status).toBe(201);
    let d = await desired('dev-late');
    expect([d.sequence, versions(d)]).toEqual([2, ['1.1.0']]);
    expect(versions(await desired('dev-later'))).toEqual(['1.0.0']);
    await api.post(`/rollouts/${r2.body.rollout.id}/abort`);
    d = await desired('dev-late');
    expect([d.sequence, versions(d)]).toEqual([3, ['1.0.0']]);
    // nothing changed for the other device: no new sequence
    expect((await desired('dev-later')).sequence).toBe(1);
    // leaving the target set empties the desired state with a higher sequence
    await api.patch('/devices/dev-late', { tags: {} });
    d = await waitFor(async () => {
      const x = await desired('dev-late');
      return x.sequence === 4 ? x : null;
    }, 'empty desired state');
    expect(d.desired.models).toEqual([]);
  });

  it('deploys a shadow next to the active version', async () => {
    await api.post('/rollouts', { model: 'tiny', version: '1.1.0', targets: { devices: ['dev-later'] }, shadow: true });
    const d = await desired('dev-later');
    expect(d.desired.models.map((m: { role: string }) => m.role)).toEqual(['active', 'shadow']);
    expect(versions(d)).toEqual(['1.0.0', '1.1.0']);
  });
});
