// Replica identity and what each hub filter becomes on an MQTT 5 broker shared by replicas (design §8).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EdgefleetError, hubSubscriptions } from '@edgefleet/protocol';
import { hubClientId, replicaSubscription, resolveReplicaId } from './replica.js';

describe('replica id', () => {
  let dir = '';
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = '';
  });

  it('is made once and kept in the data dir, so a restarted replica comes back under the same client id', () => {
    dir = mkdtempSync(join(tmpdir(), 'edgefleet-replica-'));
    const first = resolveReplicaId(dir);
    expect(first).toMatch(/^[0-9a-f]{8}$/);
    expect(readFileSync(join(dir, 'replica-id'), 'utf8').trim()).toBe(first);
    expect(resolveReplicaId(dir)).toBe(first);
    // within the 23 bytes every MQTT server accepts
    expect(Buffer.byteLength(hubClientId(first))).toBeLessThanOrEqual(23);
  });

  it('takes the given one over the stored one', () => {
    dir = mkdtempSync(join(tmpdir(), 'edgefleet-replica-'));
    resolveReplicaId(dir);
    expect(resolveReplicaId(dir, 'hub-b')).toBe('hub-b');
    expect(hubClientId('hub-b')).toBe('edgefleet_hub_hub-b');
  });

  it('refuses an id that could act as a topic wildcard, level or another user (BAD_INPUT)', () => {
    dir = mkdtempSync(join(tmpdir(), 'edgefleet-replica-'));
    for (const bad of ['', 'a/b', 'a+', '#', 'A', 'x_y', 'a'.repeat(33)]) {
      expect(() => resolveReplicaId(dir, bad)).toThrow(EdgefleetError);
      try {
        resolveReplicaId(dir, bad);
      } catch (err) {
        expect((err as EdgefleetError).code).toBe('BAD_INPUT');
      }
    }
  });

  it('refuses a replica-id file that does not hold one (BAD_INPUT)', () => {
    dir = mkdtempSync(join(tmpdir(), 'edgefleet-replica-'));
    writeFileSync(join(dir, 'replica-id'), 'ef/v1/#\n');
    expect(() => resolveReplicaId(dir)).toThrow(/replica-id must hold a replica id/);
  });
});

describe('replicaSubscription', () => {
  it('shares telemetry, events and artifact requests: each message to one replica', () => {
    for (const f of [hubSubscriptions.telemetry, hubSubscriptions.events, hubSubscriptions.artifactGet]) {
      expect(replicaSubscription(f)).toEqual({ live: `$share/edgefleet/${f}` });
    }
    expect(replicaSubscription(hubSubscriptions.telemetry).live).toBe(hubSubscriptions.sharedTelemetry);
  });

  it('shares reported states and takes their retained copies on a subscription of its own', () => {
    expect(replicaSubscription(hubSubscriptions.reported)).toEqual({ live: `$share/edgefleet/${hubSubscriptions.reported}`, snapshot: hubSubscriptions.reported });
  });

  it('keeps status on every replica: its bare body orders nothing, the broker’s order does', () => {
    expect(replicaSubscription(hubSubscriptions.status)).toEqual({ live: hubSubscriptions.status });
  });
});
