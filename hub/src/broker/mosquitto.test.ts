// One Mosquitto password file, several replicas writing it (design §8): each keeps the others' hub users.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ACL_BEGIN, ACL_END, createMosquittoSync, mosquittoPasswordHash, otherHubUsers, withMulticastGrants } from './mosquitto.js';

const users = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.slice(0, l.indexOf(':')));

describe('Mosquitto password file shared by replicas', () => {
  it('keeps only lines whose user cannot be a device id, and not this replica’s own', () => {
    const body = ['edgefleet_hub_a:$7$x', 'edgefleet_hub_b:$7$y', 'dev-1:$7$z', 'edgefleet_hub:$7$w', '', 'garbage'].join('\n');
    expect(otherHubUsers(body, 'edgefleet_hub_a')).toEqual([
      { user: 'edgefleet_hub_b', hash: '$7$y' },
      { user: 'edgefleet_hub', hash: '$7$w' },
    ]);
  });

  it('two replicas rewriting the file after device changes keep each other’s user and the current devices', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgefleet-passwd-'));
    try {
      const passwordFile = join(dir, 'passwd');
      let devices = [{ user: 'dev-1', hash: mosquittoPasswordHash('t1') }];
      const sync = (user: string) =>
        createMosquittoSync({ passwordFile, brokerUrl: `mqtt://${user}:pw-${user}@127.0.0.1:1883`, entries: async () => [...devices], onReload: () => undefined, log: () => undefined });
      const a = sync('edgefleet_hub_a');
      const b = sync('edgefleet_hub_b');
      await a();
      await b();
      expect(users(passwordFile).sort()).toEqual(['dev-1', 'edgefleet_hub_a', 'edgefleet_hub_b']);
      // a device removed and another added: whichever replica rewrites, the hub users stay
      devices = [{ user: 'dev-2', hash: mosquittoPasswordHash('t2') }];
      await a();
      expect(users(passwordFile).sort()).toEqual(['dev-2', 'edgefleet_hub_a', 'edgefleet_hub_b']);
      await b();
      expect(users(passwordFile).sort()).toEqual(['dev-2', 'edgefleet_hub_a', 'edgefleet_hub_b']);
      // the lock is released after each write
      expect(() => readFileSync(`${passwordFile}.lock`)).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('warns when a hub user could be a device id (another replica would drop it as a removed device)', () => {
    const lines: string[] = [];
    createMosquittoSync({ passwordFile: '/nonexistent/x', brokerUrl: 'mqtt://hub:pw@127.0.0.1:1883', entries: async () => [], onReload: () => undefined, log: (l) => lines.push(l) });
    expect(lines.join('\n')).toMatch(/could be a device id/);
  });
});

describe('Mosquitto ACL multicast grants', () => {
  const shipped = 'user edgefleet_hub\ntopic readwrite ef/v1/#\n\npattern read ef/v1/keyring\n';
  const t = (sha: string) => `ef/v1/artifacts/${sha}/data`;

  it('appends the hub section after the operator’s rules, then replaces only that section', () => {
    const once = withMulticastGrants(shipped, [{ user: 'dev-1', topics: [t('a'.repeat(64))] }, { user: 'dev-2', topics: [] }]);
    expect(once.startsWith(shipped)).toBe(true);
    expect(once).toContain(`${ACL_BEGIN}\nuser dev-1\ntopic read ${t('a'.repeat(64))}\n${ACL_END}`);
    expect(once).not.toContain('user dev-2'); // names no artifact: no block
    const twice = withMulticastGrants(once + 'user edgefleet_hub_b\ntopic readwrite ef/v1/#\n', [{ user: 'dev-2', topics: [t('b'.repeat(64))] }]);
    expect(twice).not.toContain('user dev-1');
    expect(twice).toContain(`user dev-2\ntopic read ${t('b'.repeat(64))}`);
    expect(twice.endsWith('user edgefleet_hub_b\ntopic readwrite ef/v1/#\n')).toBe(true); // kept as it was
    expect(twice.startsWith(shipped)).toBe(true);
  });
});
