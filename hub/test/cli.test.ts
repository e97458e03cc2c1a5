// The CLI as a client of a real hub: output, --json, and `error CODE: message` with a non-zero exit.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { fromBase64, verifyKeyring } from '@edgefleet/protocol';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '@edgefleet/hub';
import { startTestHub, tempDir, tinyModel } from './helpers.js';

// child processes run the built bin (vitest.config.ts: bins use dist/); tsx from source when not built
const BIN = fileURLToPath(new URL('../bin/edgefleet.js', import.meta.url));
const BUILT = existsSync(fileURLToPath(new URL('../dist/cli.js', import.meta.url)));
const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function run(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, BUILT ? [BIN, ...args] : ['--import', 'tsx', CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe('edgefleet CLI', () => {
  let hub: Hub;
  let dir: ReturnType<typeof tempDir>;
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = tempDir();
    hub = await startTestHub(join(dir.path, 'data'), { ws: null });
    env = { EDGEFLEET_HUB: hub.urls.http, EDGEFLEET_TOKEN: hub.adminToken };
    writeFileSync(join(dir.path, 'm.onnx'), tinyModel());
  });
  afterAll(async () => {
    await hub.close();
    dir.remove();
  });

  it('adds a device with an agent config, pushes, deploys and lists as JSON', async () => {
    const out = join(dir.path, 'agent.json');
    const add = await run(['device', 'add', 'dev-cli', '--tag', 'site=x', '--out', out], env);
    expect(add.code, add.stderr).toBe(0);
    const push = await run(['model', 'push', join(dir.path, 'm.onnx'), '--name', 'tiny', '--version', '1.0.0', '--url', 'https://cdn.example/tiny.onnx'], env);
    expect(push.code, push.stderr).toBe(0);
    expect(push.stdout).toContain('release 1');
    expect(push.stderr).toContain('upload');
    const pushed = (await (await fetch(`${hub.urls.http}/api/v1/models/tiny`, { headers: { authorization: `Bearer ${hub.adminToken}` } })).json()) as any;
    expect(pushed.versions[0].manifest.artifact.urls[0]).toBe('https://cdn.example/tiny.onnx'); // the mirror first, the hub last
    const start = await run(['rollout', 'start', 'tiny@1.0.0', '--tag', 'site=x'], env);
    expect(start.code, start.stderr).toBe(0);
    expect(start.stdout).toMatch(/1 device/);
    const ls = await run(['devices', 'ls', '--json'], env);
    const devices = JSON.parse(ls.stdout).devices as Array<{ id: string; desiredSequence: number }>;
    expect(devices.map((d) => [d.id, d.desiredSequence])).toEqual([['dev-cli', 1]]);
  });

  it('prints `error CODE: message` and exits non-zero on refusals', async () => {
    const dup = await run(['model', 'push', join(dir.path, 'm.onnx'), '--name', 'tiny', '--version', '1.0.0'], env);
    expect(dup.code).not.toBe(0);
    expect(dup.stderr).toMatch(/^error CONFLICT: .+$/m);
    const denied = await run(['devices', 'ls'], { ...env, EDGEFLEET_TOKEN: 'ef_nope' });
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/^error UNAUTHORIZED: /m);
    const mirror = await run(['model', 'push', join(dir.path, 'm.onnx'), '--name', 'tiny', '--version', '1.0.1', '--url', 'ftp://cdn.example/tiny.onnx'], env);
    expect(mirror.stderr).toMatch(/^error BAD_INPUT: mirror URL .+ must be http or https$/m);
    const usage = await run(['rollout', 'start', 'tiny'], env);
    expect(usage.stderr).toMatch(/^error BAD_INPUT: /m);
    // a pid file alone would reload mosquitto with nothing the hub keeps: refused before anything starts
    const data = join(dir.path, 'refused-hub');
    const pidOnly = await run(['hub', 'start', '--data', data, '--http', '127.0.0.1:0', '--mqtt', 'off', '--ws', 'off', '--mosquitto-pid-file', join(dir.path, 'mosquitto.pid')], env);
    expect(pidOnly.code).not.toBe(0);
    expect(pidOnly.stderr).toMatch(/^error BAD_INPUT: .*--mosquitto-password-file/m);
    expect(existsSync(data)).toBe(false);
  });

  it('keys init makes root, release and director keys and a root-signed keyring, readable only by the owner', async () => {
    const out = join(dir.path, 'keys');
    const r = await run(['keys', 'init', '--out', out], {});
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/root key offline/);
    for (const f of ['root', 'release', 'director', 'keyring']) expect(statSync(join(out, `${f}.json`)).mode & 0o777).toBe(0o600);
    const root = JSON.parse(readFileSync(join(out, 'root.json'), 'utf8')) as { publicKey: string };
    const keyring = verifyKeyring(readFileSync(join(out, 'keyring.json')), fromBase64(root.publicKey), null, new Date());
    expect(keyring.ok && keyring.value.keys.map((k) => k.roles[0])).toEqual(['release', 'director']);
  });
});
