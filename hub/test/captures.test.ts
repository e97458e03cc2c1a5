// Captured field data at the hub (design §4 capture, §2 `edgefleet data`): rows stored once per (device, seq)
// and prediction id, late labels joined to the sending device's own rows only, oversized rows and batches that
// claim another device refused with protocol codes, `data ls` / `data export` as JSON Lines whose sha256 is
// recorded and audited, and the per-model size limit.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Hub } from '@edgefleet/hub';
import { topics, type Capture, type TelemetryBatch } from '@edgefleet/protocol';
import { apiClient, connectDevice, endClient, startTestHub, tempDir, tinyModel, waitFor } from './helpers.js';
import { registerDevices, type FleetDevice } from './dashboard-support.js';
import { runCli } from './webhooks-support.js';

const cli = runCli;

let hub: Hub;
let dir: ReturnType<typeof tempDir>;
let devices: FleetDevice[];

const row = (id: string, i: number, extra: Partial<Extract<Capture, { kind: 'row' }>> = {}): Capture => ({
  kind: 'row',
  id,
  model: 'm',
  version: '1.0.0',
  at: Date.now() - 1000 + i,
  trigger: 'sample',
  features: { f0: i / 10, site: `s${i % 2}` },
  prediction: i % 2 === 0 ? 'a' : 'b',
  confidence: 0.5 + i / 100,
  ...extra,
});

async function send(d: FleetDevice, captures: Capture[], opts: { seq?: number; deviceId?: string; topicOf?: string } = {}): Promise<void> {
  const batch: TelemetryBatch = { deviceId: opts.deviceId ?? d.id, seq: opts.seq ?? ++d.telemetrySeq, windows: [], dropped: 0, captures };
  await d.client!.publishAsync(topics.telemetry(opts.topicOf ?? d.id), JSON.stringify(batch), { qos: 1 });
}

const api = () => apiClient(hub.urls.http, hub.adminToken);

async function exportLines(body: object = {}): Promise<{ status: number; text: string; sha: string | null; lines: any[] }> {
  const res = await fetch(`${hub.urls.http}/api/v1/datasets/m/1.0.0/export`, {
    method: 'POST',
    headers: { authorization: `Bearer ${hub.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, sha: res.headers.get('x-dataset-sha256'), lines: res.status === 200 ? text.split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [] };
}

const stored = () => hub.metrics.get('edgefleet_capture_rows_total', { outcome: 'stored' });

beforeEach(async () => {
  dir = tempDir('edgefleet-captures-');
  hub = await startTestHub(join(dir.path, 'data'), { ws: null });
  devices = await registerDevices(hub, [
    { id: 'dev-a', tags: { site: 'north' }, online: true },
    { id: 'dev-b', tags: { site: 'south' }, online: true },
  ]);
});

afterEach(async () => {
  for (const d of devices) await endClient(d.client);
  await hub.close();
  dir.remove();
});

describe('captured rows at the hub', () => {
  it('stores each row once, joins late labels by prediction id, and exports exactly what was captured', async () => {
    const [a, b] = devices as [FleetDevice, FleetDevice];
    const rowsA = Array.from({ length: 6 }, (_, i) => row(`a-${i}`, i));
    await send(a, rowsA.slice(0, 3));
    // the same batch again (a resend after a lost PUBACK): de-duplicated on (deviceId, seq)
    await send(a, rowsA.slice(0, 3), { seq: a.telemetrySeq });
    await send(a, rowsA.slice(3));
    await send(b, [row('b-0', 10)]);
    await waitFor(() => stored() === 7, 'rows stored');
    await waitFor(() => hub.metrics.get('edgefleet_telemetry_duplicates_total') >= 1, 'the duplicate seen');
    // a late label for a-1 in a later batch
    await send(a, [{ kind: 'label', id: 'a-1', model: 'm', version: '1.0.0', at: Date.now(), label: 'b' }]);
    await waitFor(() => hub.metrics.get('edgefleet_capture_labels_total', { outcome: 'joined' }) === 1, 'label joined');

    const all = await exportLines();
    expect(all.status).toBe(200);
    expect(all.sha).toBe(createHash('sha256').update(all.text).digest('hex'));
    expect(all.lines.map((l) => l.predictionId)).toEqual([...rowsA.map((r) => r.id), 'b-0']);
    for (const [i, r] of rowsA.entries()) {
      const line = all.lines[i]!;
      const want = r as Extract<Capture, { kind: 'row' }>;
      expect(line).toEqual({
        predictionId: want.id,
        deviceId: 'dev-a',
        model: 'm',
        version: '1.0.0',
        at: new Date(want.at).toISOString(),
        trigger: 'sample',
        features: want.features,
        prediction: want.prediction,
        confidence: want.confidence,
        label: want.id === 'a-1' ? 'b' : null,
      });
    }
    const labelled = await exportLines({ labelled: true });
    expect(labelled.lines.map((l) => l.predictionId)).toEqual(['a-1']);
    const south = await exportLines({ tag: ['site=south'] });
    expect(south.lines.map((l) => l.deviceId)).toEqual(['dev-b']);

    // every export recorded with its hash and audited
    const ls = await api().get('/datasets');
    expect(ls.status).toBe(200);
    expect(ls.body.datasets).toEqual([expect.objectContaining({ model: 'm', version: '1.0.0', rows: 7, labelled: 1 })]);
    expect(ls.body.exports.map((e: any) => e.sha256)).toEqual([south.sha, labelled.sha, all.sha]);
    const audit = (await hub.services.ctx.store.listAudit()).filter((r) => r.action === 'dataset.export');
    expect(audit).toHaveLength(3);
    expect(audit[0]!.details).toContain(all.sha!);
  });

  it('`edgefleet data export` writes JSON Lines and prints the sha256 the hub recorded; `data ls --json` lists it', async () => {
    const [a] = devices as [FleetDevice];
    await send(a, Array.from({ length: 4 }, (_, i) => row(`c-${i}`, i)));
    await waitFor(() => stored() === 4, 'rows stored');
    const env = { EDGEFLEET_HUB: hub.urls.http, EDGEFLEET_TOKEN: hub.adminToken };
    const file = join(dir.path, 'm.jsonl');
    const res = await cli(['data', 'export', 'm@1.0.0', '--since', '1h', '--out', file], env);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const sha = createHash('sha256').update(readFileSync(file)).digest('hex');
    expect(res.stdout).toContain(`sha256 ${sha}`);
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(4);
    const ls = await cli(['data', 'ls', '--json'], env);
    expect(ls.code).toBe(0);
    const body = JSON.parse(ls.stdout);
    expect(body.datasets[0]).toMatchObject({ model: 'm', version: '1.0.0', rows: 4 });
    expect(body.exports[0]).toMatchObject({ sha256: sha, rows: 4, filters: { since: expect.any(Number) } });
    // design §2 `model push --dataset SHA`: the export's hash is the new version's lineage
    const model = join(dir.path, 'm.onnx');
    writeFileSync(model, tinyModel());
    const pushed = await cli(['model', 'push', model, '--name', 'm', '--version', '2.0.0', '--dataset', sha, '--json'], env);
    expect(pushed.code, pushed.stderr).toBe(0);
    const manifest = (await api().get('/models/m')).body.versions.find((v: any) => v.version === '2.0.0').manifest;
    expect(manifest.lineage.dataset).toEqual({ id: 'captured:m@1.0.0', sha256: sha });
    const unknown = await cli(['model', 'push', model, '--name', 'm', '--version', '3.0.0', '--dataset', 'f'.repeat(64)], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/error NOT_FOUND: no dataset export/);
    // nothing captured: NOT_FOUND, exit 1
    const none = await cli(['data', 'export', 'other@1.0.0', '--out', join(dir.path, 'x.jsonl')], env);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^error NOT_FOUND/);
  });

  it('`hub start --capture` refuses rules that do not parse, before starting anything', async () => {
    const rules = join(dir.path, 'rules.json');
    writeFileSync(rules, JSON.stringify([{ model: 'm', rate: 2 }]));
    const res = await cli(['hub', 'start', '--data', join(dir.path, 'other'), '--http', '127.0.0.1:0', '--mqtt', 'off', '--ws', 'off', '--capture', rules], {});
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^error BAD_INPUT: --capture .*rate/);
    expect(existsSync(join(dir.path, 'other'))).toBe(false);
  });

  it('refuses an oversized row alone (TOO_LARGE) and stores the rest of its batch', async () => {
    const [a] = devices as [FleetDevice];
    const big: Record<string, string> = {};
    for (let i = 0; i < 80; i++) big[`k${i}`] = 'x'.repeat(120);
    await send(a, [row('ok-1', 1), row('huge', 2, { features: big }), row('ok-2', 3)]);
    await waitFor(() => stored() === 2, 'the fitting rows stored');
    expect(hub.metrics.get('edgefleet_capture_rows_total', { outcome: 'refused' })).toBe(1);
    expect(hub.metrics.get('edgefleet_rejected_messages_total', { reason: 'TOO_LARGE', topic: 'capture' })).toBe(1);
    expect((await exportLines()).lines.map((l) => l.predictionId)).toEqual(['ok-1', 'ok-2']);
    // more rows than a batch may carry: the batch is refused whole, nothing of it stored
    await send(a, Array.from({ length: 257 }, (_, i) => row(`many-${i}`, i)));
    await waitFor(() => hub.metrics.get('edgefleet_rejected_messages_total', { reason: 'BAD_MESSAGE', topic: 'telemetry' }) >= 1, 'batch refused');
    expect(stored()).toBe(2);
  });

  it('lets a device write only its own rows: another device id, another topic and another device’s labels are refused', async () => {
    const [a, b] = devices as [FleetDevice, FleetDevice];
    await send(b, [row('b-own', 1)]);
    await waitFor(() => stored() === 1, 'b’s row stored');
    // a batch on its own topic that names another device
    await send(a, [row('forged-1', 2)], { deviceId: 'dev-b' });
    await waitFor(() => hub.metrics.get('edgefleet_rejected_messages_total', { reason: 'WRONG_DEVICE', topic: 'telemetry' }) === 1, 'WRONG_DEVICE');
    // a publish on the other device's topic: the broker's ACL refuses it (design §4), it never reaches ingest
    const forged = a.client!.publishAsync(topics.telemetry('dev-b'), JSON.stringify({ deviceId: 'dev-b', seq: 99, windows: [], dropped: 0, captures: [row('forged-2', 3)] }), { qos: 1 });
    // MQTT 3.1.1 has no refusal for a PUBLISH: the broker drops it, or the connection (then no PUBACK comes)
    await Promise.race([forged.catch(() => undefined), new Promise((r) => setTimeout(r, 1500))]);
    await endClient(a.client);
    a.client = await connectDevice(hub.urls.mqtt!, 'dev-a', a.token);
    // a label from a for b's prediction id: joins nothing
    await send(a, [{ kind: 'label', id: 'b-own', model: 'm', version: '1.0.0', at: Date.now(), label: 'z' }]);
    await waitFor(() => hub.metrics.get('edgefleet_capture_labels_total', { outcome: 'unmatched' }) === 1, 'label unmatched');
    expect(hub.metrics.get('edgefleet_telemetry_batches_total')).toBe(2); // b's, a's label: the forged one never counted
    await send(a, [row('a-own', 4)]);
    await waitFor(() => stored() === 2, 'a’s own row stored');
    const lines = (await exportLines()).lines;
    expect(lines.map((l) => [l.deviceId, l.predictionId, l.label])).toEqual([
      ['dev-b', 'b-own', null],
      ['dev-a', 'a-own', null],
    ]);
  });

  it('keeps at most the per-model size limit, the newest rows', async () => {
    await hub.close();
    hub = await startTestHub(join(dir.path, 'data'), { ws: null, capture: { maxBytesPerModel: 1000 } });
    for (const d of devices) await endClient(d.client);
    const a = devices[0]!;
    a.client = await connectDevice(hub.urls.mqtt!, 'dev-a', a.token);
    devices = [a];
    await send(a, Array.from({ length: 20 }, (_, i) => row(`r-${i}`, i)));
    await waitFor(() => stored() === 20, 'rows stored');
    // retention runs with the hub's upkeep: at start (and hourly); a restart applies it now
    await endClient(a.client);
    await hub.close();
    hub = await startTestHub(join(dir.path, 'data'), { ws: null, capture: { maxBytesPerModel: 1000 } });
    a.client = await connectDevice(hub.urls.mqtt!, 'dev-a', a.token);
    const ls = await api().get('/datasets');
    const d = ls.body.datasets[0];
    expect(d.bytes).toBeLessThanOrEqual(1000);
    expect(d.rows).toBeGreaterThan(0);
    const ids = (await exportLines()).lines.map((l) => Number(l.predictionId.slice(2)));
    expect(ids).toEqual(Array.from({ length: ids.length }, (_, k) => 20 - ids.length + k));
  });
});
