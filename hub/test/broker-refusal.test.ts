// A broker that refuses the hub's shared subscription (SUBACK reason ≥ 0x80): the hub does not start and
// says which subscription and what the broker user lacks. Mosquitto's acl_file grants every SUBSCRIBE and
// filters on delivery, so the refusal comes from Mosquitto 2's dynamic security plugin, which checks a
// subscription against its whole filter, `$share/edgefleet/…` included; the role the README shows for it
// lets the hub start.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EdgefleetError } from '@edgefleet/protocol';
import { mosquittoPasswordHash, startHub, type Hub } from '@edgefleet/hub';
import { MOSQUITTO, freePort } from './processes.js';
import { tempDir, waitFor } from './helpers.js';

const DYNSEC = '/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so';
const PASSWORD = 'hub-secret-for-tests-only';

type Acl = { acltype: string; topic: string; allow: boolean };

/** Mosquitto with only the dynamic security plugin: user edgefleet_hub_a with one role of `acls`. */
async function startDynsecMosquitto(dir: string, acls: Acl[]): Promise<{ url: string; child: ChildProcess; stop: () => Promise<void> }> {
  const port = await freePort();
  // the plugin stores the same PBKDF2-SHA512 as the password file's `$7$<iterations>$<salt>$<hash>`
  const [, , iterations, salt, password] = mosquittoPasswordHash(PASSWORD).split('$');
  const config = join(dir, 'dynsec.json');
  writeFileSync(
    config,
    JSON.stringify({
      defaultACLAccess: { publishClientSend: false, publishClientReceive: true, subscribe: false, unsubscribe: true },
      clients: [{ username: 'edgefleet_hub_a', password, salt, iterations: Number(iterations), roles: [{ rolename: 'hub' }] }],
      groups: [],
      roles: [{ rolename: 'hub', acls: acls.map((a) => ({ ...a, priority: 0 })) }],
    }),
  );
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous false', `plugin ${DYNSEC}`, `plugin_opt_config_file ${config}`, 'persistence false', 'user root', ''].join('\n'));
  const child = spawn(MOSQUITTO, ['-c', conf], { stdio: 'ignore' });
  const exited = new Promise((r) => child.once('exit', r));
  await waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      }),
    'mosquitto listening',
  );
  return {
    url: `mqtt://edgefleet_hub_a:${PASSWORD}@127.0.0.1:${port}`,
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

const publish: Acl = { acltype: 'publishClientSend', topic: 'ef/v1/#', allow: true };

describe.skipIf(!existsSync(MOSQUITTO) || !existsSync(DYNSEC))('a broker refusing the hub’s subscriptions (Mosquitto dynamic security)', () => {
  let dir: ReturnType<typeof tempDir> | undefined;
  let broker: Awaited<ReturnType<typeof startDynsecMosquitto>> | undefined;
  let hub: Hub | undefined;
  afterEach(async () => {
    await hub?.close();
    await broker?.stop();
    dir?.remove();
    dir = broker = hub = undefined;
  });

  it('does not start when the broker user may subscribe to the device topics but not to their $share form (FORBIDDEN)', async () => {
    dir = tempDir('edgefleet-dynsec-');
    broker = await startDynsecMosquitto(dir.path, [publish, { acltype: 'subscribePattern', topic: 'ef/v1/#', allow: true }]);
    const started = startHub({ dataDir: join(dir.path, 'hub'), http: '127.0.0.1:0', broker: broker.url, replicaId: 'a', log: () => {} });
    const err = await started.then(
      (h) => {
        hub = h;
        return null;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(EdgefleetError);
    expect((err as EdgefleetError).code).toBe('FORBIDDEN');
    expect((err as EdgefleetError).message).toContain('$share/edgefleet/ef/v1/devices/+/telemetry');
    expect((err as EdgefleetError).message).toMatch(/Not authorized \(reason code 0x87\)/);
  });

  it('starts with the role the README shows: the $share filters and the non-shared status and reported', async () => {
    dir = tempDir('edgefleet-dynsec-');
    broker = await startDynsecMosquitto(dir.path, [
      publish,
      { acltype: 'subscribePattern', topic: '$share/edgefleet/ef/v1/devices/+/#', allow: true },
      { acltype: 'subscribePattern', topic: 'ef/v1/devices/+/status', allow: true },
      { acltype: 'subscribePattern', topic: 'ef/v1/devices/+/reported', allow: true },
    ]);
    const lines: string[] = [];
    hub = await startHub({ dataDir: join(dir.path, 'hub'), http: '127.0.0.1:0', broker: broker.url, replicaId: 'a', log: (l) => lines.push(l) });
    expect(lines.join('\n')).toContain('(as edgefleet_hub_a)');
    expect(lines.join('\n')).not.toMatch(/refused|snapshot/);
  });
});
