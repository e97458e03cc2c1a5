// The audit log (design §7): every operator action is a hash-chained row; `edgefleet audit
// verify` (the built CLI, against a real hub) passes on an untouched database and names the first row edited,
// deleted or relinked by hand through SQLite, and exits non-zero.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '@edgefleet/hub';
import { apiClient, startTestHub, tempDir, tinyModel } from './helpers.js';
import { runCli } from './webhooks-support.js';

const cli = runCli;

interface Row {
  id: number;
  at: string;
  actor: string;
  action: string;
  details: string;
  prev_hash: string;
  hash: string;
}

describe('audit log', () => {
  let dir: ReturnType<typeof tempDir>;
  let hub: Hub;
  let env: Record<string, string>;
  let db: Database.Database;

  beforeAll(async () => {
    dir = tempDir('edgefleet-audit-');
    hub = await startTestHub(join(dir.path, 'data'), { ws: null, alarms: false });
    env = { EDGEFLEET_HUB: hub.urls.http, EDGEFLEET_TOKEN: hub.adminToken };
    const admin = apiClient(hub.urls.http, hub.adminToken);
    const ok = (r: { status: number; body: unknown }) => expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
    ok(await admin.post('/devices', { id: 'cam-1', tags: { site: 'x' } }));
    ok(await admin.post('/devices', { id: 'cam-2' }));
    ok(await admin.patch('/devices/cam-1', { tags: { site: 'y' } }));
    ok(await admin.post('/tokens', { role: 'operator', name: 'ci' }));
    ok(await admin.pushModel(tinyModel(), { name: 'tiny', version: '1.0.0' }));
    ok(await admin.post('/rollouts', { model: 'tiny', version: '1.0.0', targets: { devices: ['cam-1'] } }));
    ok(await admin.del('/devices/cam-2'));
    ok(await admin.post('/webhooks', { url: 'http://127.0.0.1:9/hook' }));
    db = new Database(join(dir.path, 'data', 'hub.db'));
  });
  afterAll(async () => {
    db?.close();
    await hub?.close();
    dir.remove();
  });

  const rows = () => db.prepare<[], Row>('SELECT * FROM audit ORDER BY id').all();
  const rowOf = (action: string) => rows().find((r) => r.action === action)!;

  it('records every operator action with its actor', () => {
    const actions = rows().map((r) => r.action);
    for (const a of ['keys.create', 'token.create', 'device.add', 'device.tags', 'model.push', 'rollout.start', 'device.remove', 'webhook.add']) {
      expect(actions, a).toContain(a);
    }
    // the first admin token is the hub's own act; the rest are the admin token's
    expect(rows()[0]).toMatchObject({ actor: 'hub', action: 'token.create' });
    expect(rowOf('device.remove').actor).toMatch(/^token:t-/);
    expect(JSON.parse(rowOf('device.tags').details)).toEqual({ id: 'cam-1', tags: { site: 'y' } });
  });

  it('`audit verify` passes on an untouched database', async () => {
    const res = await cli(['audit', 'verify'], env);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toBe(`audit log intact: ${rows().length} entries\n`);
  });

  it('names the row whose details were edited by hand, and exits non-zero', async () => {
    const target = rowOf('device.tags');
    db.prepare('UPDATE audit SET details = ? WHERE id = ?').run(JSON.stringify({ id: 'cam-1', tags: { site: 'x' } }), target.id);
    try {
      const res = await cli(['audit', 'verify'], env);
      expect(res.code).toBe(1);
      expect(res.stdout).toContain(`audit log BROKEN at row ${target.id} (content)`);
      expect(res.stdout).toContain('device.tags');
      const json = await cli(['audit', 'verify', '--json'], env);
      expect(json.code).toBe(1);
      expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, brokenAt: target.id, reason: 'content', entries: target.id - 1, row: { id: target.id, action: 'device.tags' } });
    } finally {
      db.prepare('UPDATE audit SET details = ? WHERE id = ?').run(target.details, target.id);
    }
    expect((await cli(['audit', 'verify'], env)).code).toBe(0);
  });

  it('names the row after one that was rewritten with a recomputed hash, or deleted', async () => {
    const api = apiClient(hub.urls.http, hub.adminToken);
    const target = rowOf('model.push');
    const next = rows().find((r) => r.id > target.id)!;
    // a forger who recomputes the edited row's own hash still breaks the link of the row after it
    const { auditHash } = await import('../src/store/db.js');
    const details = JSON.stringify({ ...JSON.parse(target.details), version: '9.9.9' });
    db.prepare('UPDATE audit SET details = ?, hash = ? WHERE id = ?').run(details, auditHash(target.prev_hash, target.at, target.actor, target.action, details), target.id);
    let v = (await api.get('/audit/verify')).body;
    expect(v).toMatchObject({ ok: false, brokenAt: next.id, reason: 'link' });
    expect(v.message).toContain(`row ${target.id} was rewritten`);
    db.prepare('UPDATE audit SET details = ?, hash = ? WHERE id = ?').run(target.details, target.hash, target.id);

    // a deleted row: the next one no longer follows
    db.prepare('DELETE FROM audit WHERE id = ?').run(target.id);
    try {
      v = (await api.get('/audit/verify')).body;
      expect(v).toMatchObject({ ok: false, brokenAt: next.id, reason: 'link' });
      expect(v.message).toContain(`row ${target.id} is missing`);
      const res = await cli(['audit', 'verify'], env);
      expect(res.code).toBe(1);
      expect(res.stdout).toContain(`BROKEN at row ${next.id}`);
    } finally {
      db.prepare('INSERT INTO audit (id, at, actor, action, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
        target.id,
        target.at,
        target.actor,
        target.action,
        target.details,
        target.prev_hash,
        target.hash,
      );
    }

    // only the prev_hash column changed: the row is named and the cause told apart
    db.prepare('UPDATE audit SET prev_hash = ? WHERE id = ?').run('f'.repeat(64), next.id);
    v = (await api.get('/audit/verify')).body;
    expect(v).toMatchObject({ ok: false, brokenAt: next.id, reason: 'prev-hash' });
    db.prepare('UPDATE audit SET prev_hash = ? WHERE id = ?').run(next.prev_hash, next.id);
    expect((await api.get('/audit/verify')).body).toMatchObject({ ok: true, entries: rows().length });
  });
});
