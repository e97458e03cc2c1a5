// The Store contract (store/db.ts and its domain files), one suite both engines run: what the hub's services
// rely on, and what must hold when two hubs (replicas) write one database at once — two Stores opened on the
// same database here, as two replicas open it: one chain of audit rows, distinct sequences, a batch new to
// exactly one of them, an alarm raised once, an enrolment code burnt once, fetch records that add up,
// rollups of one minute that two replicas' flushes add to at once without waiting for each other.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createWindow, histogramAdd, type TelemetryWindow } from '@edgefleet/protocol';
import type { HubContext } from '../../src/context.js';
import { createMetrics, HUB_METRICS } from '../../src/metrics.js';
import type { Store } from '../../src/store/index.js';
import { createEventLog } from '../../src/telemetry/event-log.js';
import { parseStoredWindow } from '../../src/telemetry/fast-check.js';
import { createIngestCommit, type Job } from '../../src/telemetry/ingest-commit.js';
import { isStorageFailure } from '../../src/telemetry/ingest.js';
import { mergeHealth } from '../../src/telemetry/merge.js';
import { verifyAuditChain } from '../../src/trust/index.js';
import { batchKey } from '../../src/store/telemetry.js';

/** Opens the same fresh database twice: `[a, b]` are two replicas' Stores. */
export type OpenPair = () => Promise<[Store, Store]>;

const AT = '2026-12-01T10:00:00.000Z';

function device(id: string, tags: Record<string, string> = {}) {
  return { id, tags, tokenHash: 'h'.repeat(64), brokerHash: null, createdAt: AT };
}

const reported = (id: string, version: string, state = 'active') => ({
  kind: 'reported',
  deviceId: id,
  at: AT,
  desiredSequence: 1,
  models: { vib: { state, active: { version, release: 1, sha256: 's'.repeat(64) } } },
});

const MINUTE = 1_764_633_600_000;

/** One device's window in MINUTE: `n` inferences of integer latencies (exact sums, whatever the merge order). */
function minuteWindow(n: number): TelemetryWindow {
  const w = createWindow('vib', '1.0.0', 'active', MINUTE, MINUTE + 60_000);
  for (let i = 0; i < n; i++) histogramAdd(w.latencyMs, 5 + ((n * 7 + i) % 40));
  w.inferences = n;
  if (n % 3 === 0) w.errors = { INFERENCE_FAILED: 1 };
  return w;
}

/** A replica's ingest flush (telemetry/ingest-commit.ts) on a Store: what a hub process runs, one at a time. */
function flusher(store: Store, replica: string) {
  const ctx = { store, metrics: createMetrics([...HUB_METRICS]), log: () => {}, reject: () => {} } as unknown as HubContext;
  return createIngestCommit(ctx, { eventLog: createEventLog(store), onEvent: false, onTelemetryDone: false, replica }).commit;
}

export function storeContract(name: string, openPair: OpenPair): void {
  describe(`Store contract: ${name}`, () => {
    let a: Store;
    let b: Store;
    beforeEach(async () => {
      [a, b] = await openPair();
    });
    afterEach(async () => {
      await a.close();
      await b.close();
    });

    it('keeps one audit chain when two replicas append at once', async () => {
      await Promise.all([
        ...Array.from({ length: 25 }, (_, i) => a.appendAudit('hub-a', 'test.a', { i })),
        ...Array.from({ length: 25 }, (_, i) => b.appendAudit('hub-b', 'test.b', { i })),
      ]);
      const v = await verifyAuditChain(a);
      expect(v).toEqual({ ok: true, entries: 50 });
      expect((await b.listAudit()).map((r) => r.action).filter((x) => x === 'test.b')).toHaveLength(25);
    });

    it('hands out distinct, increasing sequences to two replicas issuing for one device', async () => {
      await a.insertDevice(device('dev-1'));
      const seqs = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).nextDesiredSequence('dev-1')));
      expect([...seqs].sort((x, y) => x - y)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      const cmds = await Promise.all([a.nextCommandSequence('dev-1'), b.nextCommandSequence('dev-1')]);
      expect(cmds.sort()).toEqual([1, 2]);
      // a device never registered gets its sequences too (a desired state for a device added meanwhile)
      expect(await b.nextDesiredSequence('dev-new')).toBe(1);
    });

    it('numbers rollouts and model releases one after the other across replicas', async () => {
      const rollout = (id: string) => ({ id, model: 'vib', version: '1.0.0', role: 'active' as const, targets: { all: true }, options: {}, status: 'completed', createdAt: AT });
      await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).insertRollout(rollout(`r-${i}`))));
      const seqs = (await a.listRollouts()).map((r) => r.seq);
      expect(seqs).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
      const r = (await b.getRollout('r-3'))!;
      expect(r.targets).toEqual({ all: true });
      expect(await b.setRolloutState('r-3', 'paused', { wave: 1 }, AT)).toBe(true);
      expect((await a.getRollout('r-3'))!.state).toEqual({ wave: 1 });
    });

    it('counts a telemetry batch new for exactly one replica, also when both store it at once', async () => {
      const rows = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => ({ deviceId: 'dev-1', seq: from + i, receivedAt: 1, windows: 1, dropped: 0 }));
      const [na, nb] = await Promise.all([a.transaction(() => a.telemetry.insertNewBatches(rows(0, 60))), b.transaction(() => b.telemetry.insertNewBatches(rows(30, 90)))]);
      expect(na.size + nb.size).toBe(90);
      expect([...na].filter((k) => nb.has(k))).toEqual([]);
      // within one call, a repeated key is new once
      expect((await a.telemetry.insertNewBatches([...rows(90, 91), ...rows(90, 91)])).size).toBe(1);
      expect((await b.telemetry.insertNewBatches(rows(0, 5))).size).toBe(0);
      // a flush of hundreds of records, in several multi-row statements: each tells which of its rows were new
      const many = await a.telemetry.insertNewBatches([...rows(0, 200), ...rows(500, 841), ...rows(95, 96)]);
      const expected = [...rows(91, 200), ...rows(500, 841)].map((r) => batchKey(r.deviceId, r.seq));
      expect([...many].sort()).toEqual(expected.sort());
    });

    it('stores windows set-based and reads them back by device set, tag and overlap', async () => {
      await a.insertDevice(device('dev-1', { site: 'b' }));
      await a.insertDevice(device('dev-2', { site: 'a' }));
      const w = (deviceId: string, start: number) => ({ deviceId, model: 'vib', version: '1.0.0', role: 'active', start, end: start + 1000, inferences: 3, body: `{"s":${start}}`, receivedAt: 5 });
      expect(await a.telemetry.insertWindows([w('dev-1', 0), w('dev-1', 1000), w('dev-2', 0)])).toBe(3);
      const raw = await b.telemetry.rawWindows({ model: 'vib', version: '1.0.0', from: 0, to: 5000, tags: { site: 'b' } });
      expect(raw.map((r) => [r.device, r.t])).toEqual([['dev-1', 0], ['dev-1', 1000]]);
      const wave = await b.telemetry.waveWindows({ model: 'vib', deviceIds: ['dev-2'], from: 500, to: 600 });
      expect(wave).toEqual([{ device: 'dev-2', body: '{"s":0}' }]);
      expect(await b.deliveries.reportedIn('vib', '1.0.0', 0, 1500, 'active', 'dev-1')).toBe(true);
      expect(await b.deliveries.reportedIn('vib', '1.0.0', 0, 2500, 'active', 'dev-1')).toBe(false);
      // retention keeps the highest seq it deletes, so a replay stays a duplicate
      await a.telemetry.insertNewBatches([{ deviceId: 'dev-1', seq: 7, receivedAt: 1, windows: 1, dropped: 0 }]);
      expect(await a.telemetry.prune(10, 0)).toBe(4);
      expect((await b.telemetry.seqFloors(['dev-1', 'dev-2'])).get('dev-1')).toBe(7);
    });

    it('adds up the rollups two replicas flush into one minute at once: no update lost, neither waits for the other', async () => {
      const ids = ['dev-a1', 'dev-a2', 'dev-b1', 'dev-b2'];
      for (const id of ids) await a.insertDevice(device(id));
      const [fa, fb] = [flusher(a, 'a'), flusher(b, 'b')];
      let seq = 0;
      let written = 0;
      const job = (deviceId: string, n: number): Job => {
        written += n;
        return { kind: 'telemetry', deviceId, batch: { deviceId, seq: ++seq, windows: [minuteWindow(n)], dropped: 0 }, at: 1 };
      };
      // each replica flushes one batch at a time (as its ingest does), the two replicas at once, interleaved
      const chain = async (flush: typeof fa, devs: string[], k: number) => {
        for (let i = 0; i < 30; i++) await flush([job(devs[0]!, 1 + ((i * k) % 11)), job(devs[1]!, 2 + ((i + k) % 5))]);
      };
      await Promise.all([chain(fa, ['dev-a1', 'dev-a2'], 3), chain(fb, ['dev-b1', 'dev-b2'], 7)]);
      if (a.engine === 'postgres') {
        // by construction, no cross-replica lock: while a's flush of this minute is open (its rollup row written,
        // not committed), b's flush of the same minute commits. A lock on the rollup key would wait forever here
        let release!: () => void;
        const gate = new Promise<void>((r) => (release = r));
        let opened!: () => void;
        const open = new Promise<void>((r) => (opened = r));
        const held = a.transaction(async () => {
          await fa([job('dev-a1', 4)]);
          opened();
          await gate;
        });
        await open;
        await fb([job('dev-b1', 6)]);
        release();
        await held;
      }
      const { rows, devices } = await b.telemetry.rollupWindows({ model: 'vib', version: '1.0.0', from: MINUTE, to: MINUTE + 60_000 });
      const stored = (r: { device: string; body: string }) => ({ device: r.device, window: parseStoredWindow(r.body)! });
      const merged = mergeHealth(rows.map(stored), devices);
      expect(merged.inferences).toBe(written);
      expect(merged.latencyMs.count).toBe(written);
      expect(rows).toHaveLength(2); // one row per replica
      expect(devices).toBe(4);
      // the merged rollups are the merge of every raw window stored
      const raw = await a.telemetry.rawWindows({ model: 'vib', version: '1.0.0', from: MINUTE, to: MINUTE + 60_000 });
      expect(raw).toHaveLength(seq);
      expect(merged).toEqual(mergeHealth(raw.map(stored)));
    });

    it('loses no rollup update when two processes flush under one replica id (a copied data dir): the later flush rolls back and comes again', async () => {
      for (const id of ['dev-a1', 'dev-b1']) await a.insertDevice(device(id));
      const [fa, fb] = [flusher(a, 'x'), flusher(b, 'x')];
      let seq = 0;
      let written = 0;
      let retried = 0;
      const chain = async (flush: typeof fa, deviceId: string) => {
        for (let i = 0; i < 20; i++) {
          const n = 1 + (i % 4);
          const batch = { deviceId, seq: ++seq, windows: [minuteWindow(n)], dropped: 0 };
          // as ingest.ts does: a storage failure (here a serialization failure) leaves the message to come again
          for (;;) {
            try {
              await flush([{ kind: 'telemetry', deviceId, batch, at: 1 }]);
              break;
            } catch (err) {
              if (!isStorageFailure(err)) throw err;
              retried++;
            }
          }
          written += n;
        }
      };
      await Promise.all([chain(fa, 'dev-a1'), chain(fb, 'dev-b1')]);
      const { rows } = await a.telemetry.rollupWindows({ model: 'vib', version: '1.0.0', from: MINUTE, to: MINUTE + 60_000 });
      expect(rows).toHaveLength(1);
      expect(parseStoredWindow(rows[0]!.body)!.inferences).toBe(written);
      if (a.engine === 'sqlite') expect(retried).toBe(0); // one transaction at a time: nothing to refuse
    });

    it('writes a rollup row only over the body it read: another process under the same replica id loses nothing', async () => {
      const key = { model: 'vib', version: '1.0.0', role: 'active', minute: MINUTE };
      const row = (n: number, prior: string | undefined) => ({ inferences: n, errors: 0, body: `{"n":${n}}`, prior });
      expect(await a.telemetry.putRollup('x', key, row(1, undefined))).toBe(true);
      const read = await a.telemetry.rollupBody('x', key);
      expect(read).toBe('{"n":1}');
      // b, with the same id, adds to it first; a's write over what it read is refused and changes nothing
      expect(await b.telemetry.putRollup('x', key, row(3, read))).toBe(true);
      expect(await a.telemetry.putRollup('x', key, row(2, read))).toBe(false);
      expect(await a.telemetry.putRollup('x', key, row(2, undefined))).toBe(false);
      expect(await b.telemetry.rollupBody('x', key)).toBe('{"n":3}');
      // another replica's row of the minute is its own
      expect(await a.telemetry.rollupBody('y', key)).toBeUndefined();
    });

    it('raises an alarm once over two replicas, and clears it once', async () => {
      const raised = await Promise.all([a.fleet.raiseAlarm('drift:x', 'drift', AT, '{}'), b.fleet.raiseAlarm('drift:x', 'drift', AT, '{}')]);
      expect(raised.sort()).toEqual([false, true]);
      expect(await b.fleet.openAlarms('drift')).toHaveLength(1);
      expect([await a.fleet.clearAlarm('drift:x'), await b.fleet.clearAlarm('drift:x')]).toEqual([1, 0]);
    });

    it('burns an enrolment code for one of two replicas redeeming it at once', async () => {
      await a.insertDevice(device('web-1'));
      await a.enrolment.insertCode({ hash: 'c'.repeat(64), deviceId: 'web-1', createdAt: AT, createdBy: 'token:t', expiresAt: AT });
      const burnt = await Promise.all([a.enrolment.burnCode('c'.repeat(64), AT), b.enrolment.burnCode('c'.repeat(64), AT)]);
      expect(burnt.sort()).toEqual([false, true]);
      expect((await b.enrolment.code('c'.repeat(64)))!.usedAt).toBe(AT);
    });

    it('adds up the chunks two replicas served one device', async () => {
      const bits = (...i: number[]) => {
        const out = new Uint8Array(2);
        for (const k of i) out[k >> 3]! |= 1 << (k & 7);
        return out;
      };
      const all = (m: Uint8Array) => m[0] === 0xff && m[1] === 0xff;
      await Promise.all([a.deliveries.mergeFetch('dev-1', 'sha', bits(0, 1, 2, 3, 4, 5, 6, 7), all), b.deliveries.mergeFetch('dev-1', 'sha', bits(8, 9, 10, 11), all)]);
      expect((await a.deliveries.getFetch('dev-1', 'sha'))!.complete).toBe(0);
      const last = await b.deliveries.mergeFetch('dev-1', 'sha', bits(12, 13, 14, 15), all);
      expect(last.complete).toBe(true);
      expect((await a.deliveries.getFetch('dev-1', 'sha'))!.requested).toEqual(Buffer.from([0xff, 0xff]));
    });

    it('filters and pages devices by tag, reported model, version, state, online and id substring', async () => {
      for (const [id, site] of [['pump-1', 'a'], ['pump-10', 'b'], ['pump_2', 'b'], ['fan-1', 'b']] as const) await a.insertDevice(device(id, { site }));
      await a.setDeviceReported('pump-10', reported('pump-10', '2.0.0'), AT);
      await a.setDeviceReported('fan-1', reported('fan-1', '1.0.0', 'failed'), AT);
      await a.setDeviceStatus('fan-1', 'online', AT);
      const q = (f: Record<string, unknown>) => b.queryDevices({ limit: 10, offset: 0, ...f });
      expect(await q({ tags: { site: 'b' } })).toEqual({ ids: ['fan-1', 'pump-10', 'pump_2'], total: 3 });
      expect((await q({ model: 'vib', version: '2.0.0' })).ids).toEqual(['pump-10']);
      expect((await q({ state: 'failed' })).ids).toEqual(['fan-1']);
      expect((await q({ online: true })).ids).toEqual(['fan-1']);
      // LIKE's wildcards in the search are literal; the search ignores case
      expect((await q({ q: 'p_' })).ids).toEqual(['pump_2']);
      expect((await q({ q: 'PUMP-1' })).ids).toEqual(['pump-1', 'pump-10']);
      expect(await q({ limit: 1, offset: 1 })).toEqual({ ids: ['pump-1'], total: 4 });
    });

    it('reads a stored report for update, updates last-seen times in one statement, and removes a device with its rows', async () => {
      await a.insertDevice(device('dev-1'));
      await a.insertDevice(device('dev-2'));
      expect(await a.transaction(() => a.lockReported('dev-1'))).toBeNull();
      await a.setDeviceReported('dev-1', reported('dev-1', '1.0.0'), AT);
      expect(await b.transaction(() => b.lockReported('dev-1'))).toMatchObject({ deviceId: 'dev-1' });
      await b.setDevicesSeen(new Map([['dev-1', '2026-12-01T11:00:00.000Z'], ['dev-2', '2026-12-01T12:00:00.000Z'], ['gone', AT]]));
      expect((await a.devicesByIds(['dev-2', 'dev-1', 'gone'])).map((d) => [d.id, d.lastSeen])).toEqual([
        ['dev-1', '2026-12-01T11:00:00.000Z'],
        ['dev-2', '2026-12-01T12:00:00.000Z'],
      ]);
      await a.putDesired({ deviceId: 'dev-1', sequence: 1, envelope: '{}', artifacts: ['x'], fingerprint: 'f', issuedAt: AT, expiresAt: AT });
      await a.telemetry.insertNewBatches([{ deviceId: 'dev-1', seq: 1, receivedAt: 1, windows: 0, dropped: 0 }]);
      expect(await b.deleteDevice('dev-1')).toBe(true);
      expect(await a.getDesired('dev-1')).toBeUndefined();
      expect((await a.telemetry.insertNewBatches([{ deviceId: 'dev-1', seq: 1, receivedAt: 1, windows: 0, dropped: 0 }])).size).toBe(1);
      expect(await a.deviceStatusCounts()).toEqual([{ status: 'offline', n: 1 }]);
    });

    it('holds stored desired states in the outbox until their sequence is recorded published, never lowering it', async () => {
      await a.insertDevice(device('dev-1'));
      await a.insertDevice(device('dev-2'));
      const put = (id: string, sequence: number) => a.putDesired({ deviceId: id, sequence, envelope: `{"s":${sequence}}`, artifacts: [], fingerprint: 'f', issuedAt: AT, expiresAt: AT });
      await put('dev-1', 1);
      await put('dev-2', 1);
      expect((await b.unpublishedDesired(10)).map((d) => [d.deviceId, d.sequence, d.published])).toEqual([['dev-1', 1, 0], ['dev-2', 1, 0]]);
      expect((await b.unpublishedDesired(1)).map((d) => d.deviceId)).toEqual(['dev-1']);
      expect(await b.markDesiredPublished([{ deviceId: 'dev-1', sequence: 1 }])).toEqual([]);
      await put('dev-1', 2); // a newer state keeps the published record: the outbox has it again
      expect((await a.unpublishedDesired(10)).map((d) => [d.deviceId, d.sequence, d.published])).toEqual([['dev-1', 2, 1], ['dev-2', 1, 0]]);
      expect(await a.markDesiredPublished([{ deviceId: 'dev-1', sequence: 2 }, { deviceId: 'dev-2', sequence: 1 }])).toEqual([]);
      expect(await b.unpublishedDesired(10)).toEqual([]);
      // a late publish of an older sequence does not lower the record, and says it was overtaken
      expect(await b.markDesiredPublished([{ deviceId: 'dev-1', sequence: 1 }, { deviceId: 'dev-2', sequence: 1 }, { deviceId: 'gone', sequence: 1 }])).toEqual(['dev-1']);
      expect((await a.getDesired('dev-1'))?.published).toBe(2);
    });

    it('keeps a device’s newest events, prunes old ones, and logs webhook deliveries in order', async () => {
      for (let i = 0; i < 6; i++) {
        await a.insertEvent({ deviceId: 'dev-1', type: 'info', model: null, version: null, code: null, message: `m${i}`, at: AT, receivedAt: i });
      }
      expect(await b.events.seen('dev-1', AT, 'info', 'm3')).toBe(true);
      await b.events.trim('dev-1', 4);
      expect((await a.eventsForDevice('dev-1')).map((e) => e.message)).toEqual(['m5', 'm4', 'm3', 'm2']);
      expect(await a.events.prune(4)).toBe(2);
      expect((await b.events.recent(10)).map((e) => e.deviceId)).toEqual(['dev-1', 'dev-1']);
      const log = (attempt: number) => ({ deliveryId: 'd', eventId: 'e', event: 'drift-alarm', url: 'https://x', attempt, status: 500, error: null, startedAt: AT, finishedAt: AT });
      const ids = [await a.webhooks.logDelivery(log(1)), await b.webhooks.logDelivery(log(2))];
      expect(ids[1]).toBeGreaterThan(ids[0]!);
      expect((await a.webhooks.deliveries({ limit: 5 })).map((d) => d.attempt)).toEqual([2, 1]);
    });

    it('creates each hub secret once and replaces one only from the version it was read at', async () => {
      const made = await Promise.all([a, b].map((s, i) => s.secrets.exclusive(() => s.secrets.insertMissing([{ name: 'root', value: `from-${i}` }, { name: 'keyring', value: `kr-${i}` }], AT))));
      expect(made.sort()).toEqual([0, 2]); // one replica made both rows, the other none
      const rows = await b.secrets.all();
      expect(new Set(rows.map((r) => r.value.slice(-1))).size).toBe(1); // one set, never a mix of both
      const keyring = rows.find((r) => r.name === 'keyring')!;
      expect(keyring.version).toBe(1);
      expect(await a.secrets.replace('keyring', 'kr-new', 1, AT)).toBe(true);
      expect(await b.secrets.replace('keyring', 'kr-lost', 1, AT)).toBe(false); // read at 1, changed since
      expect(await b.secrets.versions()).toEqual([{ name: 'keyring', version: 2 }, { name: 'root', version: 1 }]);
      expect((await b.secrets.all()).find((r) => r.name === 'keyring')!.value).toBe('kr-new');
    });
  });
}
