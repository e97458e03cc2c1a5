import { describe, expect, it } from 'vitest';
import { deviceMayPublish, deviceMaySubscribe, hubSubscriptions, isDeviceId, parseTopic, topics } from './topics.js';

const SHA = 'a'.repeat(64);

describe('topics', () => {
  it('builds every topic of design §4 and parses it back', () => {
    const id = 'pump-7';
    expect(topics.keyring()).toBe('ef/v1/keyring');
    const built: Array<[string, string]> = [
      [topics.desired(id), 'desired'],
      [topics.command(id), 'command'],
      [topics.artifactGet(id), 'artifact-get'],
      [topics.artifactData(id), 'artifact-data'],
      [topics.reported(id), 'reported'],
      [topics.status(id), 'status'],
      [topics.telemetry(id), 'telemetry'],
      [topics.events(id), 'events'],
    ];
    for (const [topic, kind] of built) {
      expect(topic.startsWith(`ef/v1/devices/${id}/`)).toBe(true);
      expect(parseTopic(topic)).toEqual({ kind, deviceId: id });
    }
    expect(parseTopic(topics.keyring())).toEqual({ kind: 'keyring' });
    expect(parseTopic(topics.artifactMulticast(SHA))).toEqual({ kind: 'artifact-multicast', sha256: SHA });
  });

  it('refuses device ids outside [a-z0-9][a-z0-9-]{0,62}', () => {
    for (const bad of ['', '-x', 'A', 'a/b', 'a+b', 'a#', 'x'.repeat(64), 'dev_1']) {
      expect(isDeviceId(bad)).toBe(false);
      expect(() => topics.desired(bad)).toThrow();
    }
    expect(isDeviceId('x'.repeat(63))).toBe(true);
    expect(isDeviceId('0')).toBe(true);
  });

  it('returns null for topics that are not ours', () => {
    for (const t of ['ef/v2/keyring', 'ef/v1/devices/a/unknown', 'ef/v1/devices/A/desired', 'ef/v1/artifacts/zz/data', 'x']) {
      expect(parseTopic(t)).toBeNull();
    }
  });

  it('lets a device subscribe only to the keyring and its own hub → device topics', () => {
    expect(deviceMaySubscribe('a', topics.keyring())).toBe(true);
    expect(deviceMaySubscribe('a', topics.desired('a'))).toBe(true);
    expect(deviceMaySubscribe('a', topics.command('a'))).toBe(true);
    expect(deviceMaySubscribe('a', topics.artifactData('a'))).toBe(true);
    expect(deviceMaySubscribe('a', topics.desired('b'))).toBe(false);
    expect(deviceMaySubscribe('a', topics.telemetry('a'))).toBe(false);
    expect(deviceMaySubscribe('a', 'ef/v1/devices/+/desired')).toBe(false);
    expect(deviceMaySubscribe('a', '#')).toBe(false);
    expect(deviceMaySubscribe('a', 'ef/v1/#')).toBe(false);
    expect(deviceMaySubscribe('a', hubSubscriptions.telemetry)).toBe(false);
  });

  it('lets a device publish only to its own device → hub topics', () => {
    for (const t of [topics.artifactGet('a'), topics.reported('a'), topics.status('a'), topics.telemetry('a'), topics.events('a')]) {
      expect(deviceMayPublish('a', t)).toBe(true);
      expect(deviceMayPublish('b', t)).toBe(false);
    }
    for (const t of [topics.desired('a'), topics.command('a'), topics.artifactData('a'), topics.keyring(), topics.artifactMulticast(SHA)]) {
      expect(deviceMayPublish('a', t)).toBe(false);
    }
  });
});
