// The CLI as a client of a real hub: output, --json, and `error CODE: message` with a non-zero exit.
import { existsSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { fromBase64, verifyKeyring } from '@edgefleet/protocol';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { Hub } from '@edgefleet/hub';
import { startTestHub, tempDir, tinyModel } from './helpers.js';
import { tinyValidation } from './dashboard-support.js';
import { runCli } from './webhooks-support.js';

const run = runCli;

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

  it('prints a pushed version’s feature importance, and each version’s in `model ls NAME`', async () => {
    const validation = join(dir.path, 'validation.jsonl');
    writeFileSync(validation, tinyValidation(300));
    const push = await run(['model', 'push', join(dir.path, 'm.onnx'), '--name', 'tiny-imp', '--version', '1.0.0', '--validation', validation], env);
    expect(push.code, push.stderr).toBe(0);
    expect(push.stdout).toMatch(/^ {2}importance features\[\d\] \d+ %/m);
    const ls = await run(['model', 'ls', 'tiny-imp'], env);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toContain('feature importance of tiny-imp@1.0.0 (permutation, accuracy drop, 300 rows × 3 shuffles)');
    const detail = (await (await fetch(`${hub.urls.http}/api/v1/models/tiny-imp`, { headers: { authorization: `Bearer ${hub.adminToken}` } })).json()) as any;
    const top = detail.versions[0].manifest.lineage.importance.features.reduce((a: any, b: any) => (b.share > a.share ? b : a));
    expect(ls.stdout).toMatch(new RegExp(`^ {2}${top.name.replace(/[[\]]/g, '\\$&')} +[█·]{20} +${Math.round(top.share * 100)} %$`, 'm'));
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
    // a signed batch over a file the device names (design §4 command `batch`)
    const batch = await run(['device', 'batch', 'dev-cli', '--model', 'tiny', '--file', 'rows.jsonl', '--json'], env);
    expect(batch.code, batch.stderr).toBe(0);
    expect(JSON.parse(batch.stdout).command).toMatchObject({ action: 'batch', model: 'tiny', path: 'rows.jsonl' });
  });

  it('prints a one-time enrolment link (`device enrol`) that redeems once; a bad --ttl is refused before sending', async () => {
    expect((await run(['device', 'add', 'dev-link'], env)).code).toBe(0);
    const link = await run(['device', 'enrol', 'dev-link', '--ttl', '10m'], env);
    expect(link.code, link.stderr).toBe(0);
    const url = /^(http:\/\/\S+\/device\/#enrol=([A-Za-z0-9_-]{43}))$/m.exec(link.stdout);
    expect(url?.[1]!.startsWith(hub.urls.http), link.stdout).toBe(true);
    expect(link.stdout).toMatch(/one use, valid until \S+Z/);
    const redeem = () => fetch(`${hub.urls.http}/api/v1/enrol`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: url![2] }) });
    expect((await redeem()).status).toBe(200);
    expect((await redeem()).status).toBe(404);
    const json = JSON.parse((await run(['device', 'enrol', 'dev-link', '--json'], env)).stdout) as { deviceId: string; url: string; expiresAt: string };
    expect(json.deviceId).toBe('dev-link');
    expect(json.url).toContain('/device/#enrol=');
    const bad = await run(['device', 'enrol', 'dev-link', '--ttl', 'soon'], env);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/^error BAD_INPUT: --ttl must be a duration/m);
    const short = await run(['device', 'enrol', 'dev-link', '--ttl', '10s'], env);
    expect(short.stderr).toMatch(/^error BAD_INPUT: an enrolment code lives between 1 min and 24 h/m);
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
    // an MQTT 5 session expiry is whole seconds in four bytes
    for (const expiry of ['30s', '-1', '4294967296']) {
      const bad = await run(['hub', 'start', '--data', data, '--http', '127.0.0.1:0', '--broker', 'mqtt://127.0.0.1:1', `--broker-session-expiry=${expiry}`], env);
      expect(bad.code, expiry).not.toBe(0);
      expect(bad.stderr).toMatch(/^error BAD_INPUT: --broker-session-expiry must be whole seconds/m);
    }
    expect(existsSync(data)).toBe(false);
  });

  const api = async (path: string) => (await (await fetch(`${hub.urls.http}/api/v1${path}`, { headers: { authorization: `Bearer ${hub.adminToken}` } })).json()) as any;
  /** What the CLI could change: devices with their tags, models, rollouts, tokens (through the audit log). */
  const snapshot = async () => ({
    devices: (await api('/devices')).devices.map((d: any) => [d.id, d.tags]),
    models: (await api('/models')).models.map((m: any) => [m.name, m.versions.length]),
    rollouts: (await api('/rollouts')).rollouts.length,
    audit: (await api('/audit/verify')).entries,
  });
  const refused = (r: { code: number; stdout: string; stderr: string }, what: RegExp) => {
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^error BAD_INPUT: [^\n]+\n$/);
    expect(r.stderr).toMatch(what);
    expect(r.stdout).toBe('');
  };

  it('refuses `device tag ID k=v` (a positional instead of --tag) and leaves the tags as they were', async () => {
    expect((await run(['device', 'add', 'dev-tags', '--tag', 'fleet=a', '--tag', 'site=y'], env)).code).toBe(0);
    const before = await snapshot();
    refused(await run(['device', 'tag', 'dev-tags', 'fleet=k'], env), /unexpected argument "fleet=k"/);
    refused(await run(['device', 'tag', 'dev-tags'], env), /needs --tag/);
    expect(await snapshot()).toEqual(before);
    expect(before.devices).toContainEqual(['dev-tags', { fleet: 'a', site: 'y' }]);
    const ok = await run(['device', 'tag', 'dev-tags', '--tag', 'fleet=k'], env);
    expect(ok.code, ok.stderr).toBe(0);
    expect((await api('/devices/dev-tags')).device.tags).toEqual({ fleet: 'k' });
  });

  it('refuses unknown options, extra positionals and missing arguments on every kind of command, changing nothing', async () => {
    const before = await snapshot();
    const model = join(dir.path, 'm.onnx');
    const cases: Array<[string[], RegExp]> = [
      [['device', 'add', 'dev-x', '--tagg', 'a=b'], /unknown option --tagg/],
      [['device', 'add', 'dev-x', 'extra'], /unexpected argument "extra"/],
      [['device', 'add'], /needs ID/],
      [['device', 'rm', 'dev-tags', 'dev-cli'], /unexpected argument "dev-cli"/],
      [['device', 'show'], /needs ID/],
      [['device', 'command', 'dev-cli', 'explode'], /ACTION must be one of/],
      [['device', 'batch', 'dev-cli', '--model', 'tiny'], /--file NAME are required/],
      [['devices', 'ls', 'extra'], /unexpected argument/],
      [['devices', 'ls', '--verbose'], /unknown option --verbose/],
      [['model', 'push', model, '--name', 'tiny', '--version', '3.0.0', 'extra'], /unexpected argument "extra"/],
      [['model', 'push', model, '--name', 'tiny'], /needs --version/],
      [['model', 'push', model, '--name', 'tiny', '--version', '3.0.0', '--versoin', '1'], /unknown option --versoin/],
      [['model', 'push', model, '--name', 'tiny', '--name', 'other', '--version', '3.0.0'], /--name given 2 times/],
      [['rollout', 'start', 'tiny@1.0.0', '--all', 'now'], /unexpected argument "now"/],
      [['rollout', 'start', 'tiny@1.0.0', '--everything'], /unknown option --everything/],
      [['rollout', 'start', 'tiny@1.0.0'], /needs --all, --tag k=v or --device ID/],
      [['rollout', 'abort'], /needs ID/],
      [['token', 'create'], /needs --role/],
      [['token', 'create', '--role', 'admin', 'root'], /unexpected argument "root"/],
      [['webhook', 'add'], /needs URL/],
      [['webhook', 'add', 'http://127.0.0.1:9/a', 'http://127.0.0.1:9/b'], /unexpected argument/],
      [['fleet', 'status', '--minute', '5'], /unknown option --minute/],
      [['audit', 'verify', 'now'], /unexpected argument "now"/],
      [['device', 'frob'], /unknown device command "frob"/],
      [['frob'], /unknown command "frob"/],
    ];
    for (const [args, what] of cases) refused(await run(args, env), what);
    expect(await snapshot()).toEqual(before);
  });

  it('prints each command’s usage and options with --help, from the same definitions it parses', async () => {
    const help = await run(['device', 'tag', '--help'], env);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: edgefleet device tag ID \[--tag k=v\.\.\.\] \[--clear\]/);
    expect(help.stdout).toMatch(/--hub URL/);
    const push = await run(['model', 'push', '--help'], env);
    expect(push.stdout).toMatch(/^usage: edgefleet model push FILE --name NAME --version SEMVER /);
    expect(push.stdout).toMatch(/--min-accuracy 0\.9/);
    const all = await run(['--help'], env);
    for (const c of ['hub start', 'keys init', 'device add', 'devices ls', 'model push', 'rollout start', 'rollout promote', 'fleet health', 'token create', 'audit verify', 'webhook deliveries']) {
      expect(all.stdout).toContain(`edgefleet ${c}`);
    }
  });

  it('reports the hub’s refusal of a large push (a viewer token) instead of the broken pipe that follows it', async () => {
    const big = join(dir.path, 'big.onnx');
    writeFileSync(big, '');
    truncateSync(big, 96 * 1024 * 1024); // sparse: cheap to make, real bytes to send
    const viewer = (await run(['token', 'create', '--role', 'viewer', '--json'], env));
    const token = JSON.parse(viewer.stdout).token as string;
    const r = await run(['model', 'push', big, '--name', 'big', '--version', '1.0.0'], { ...env, EDGEFLEET_TOKEN: token });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error FORBIDDEN: this action needs the operator role$/m);
  });

  /** `edgefleet ARGS --json`: exit 0 and stdout parsed as JSON. */
  const asJson = async (args: string[]) => {
    const r = await run([...args, '--json'], env);
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };

  it('prints the API’s own answer unchanged with --json on every read command', async () => {
    const rollout = (await api('/rollouts')).rollouts[0].id as string;
    // the CLI's answer against the API's, read right after (only clock fields may move in between)
    const cases: Array<[string[], string, string[]?]> = [
      [['devices', 'ls'], '/devices'],
      [['device', 'show', 'dev-cli'], '/devices/dev-cli'],
      [['model', 'ls'], '/models'],
      [['model', 'ls', 'tiny'], '/models/tiny'],
      [['rollout', 'ls'], '/rollouts'],
      [['rollout', 'show', rollout], `/rollouts/${rollout}`],
      [['fleet', 'status'], '/fleet/status', ['at']],
      [['fleet', 'status', '--minutes', '5'], '/fleet/status?minutes=5', ['at']],
      [['fleet', 'health', 'tiny@1.0.0'], '/health?model=tiny&version=1.0.0', ['from', 'to']],
      [['fleet', 'health', 'tiny@1.0.0', '--device', 'dev-cli'], '/health?model=tiny&version=1.0.0&device=dev-cli', ['from', 'to']],
      [['fleet', 'health', 'tiny@1.0.0', '--by', 'site'], '/health/groups?model=tiny&version=1.0.0&by=site', ['from', 'to']],
      [['webhook', 'ls'], '/webhooks'],
      [['webhook', 'deliveries', '--limit', '5'], '/webhooks/deliveries?limit=5'],
      [['audit', 'verify'], '/audit/verify'],
    ];
    for (const [args, path, clock = []] of cases) {
      const cli = await asJson(args);
      const answer = (await api(path)) as Record<string, unknown>;
      for (const k of clock) {
        expect(typeof cli[k], `${args.join(' ')}: ${k}`).toBe(typeof answer[k]);
        delete cli[k];
        delete answer[k];
      }
      expect(cli, args.join(' ')).toEqual(answer);
    }
    for (const args of [['devices', 'ls'], ['model', 'ls'], ['rollout', 'show'], ['fleet', 'health'], ['webhook', 'deliveries'], ['audit', 'verify']]) {
      expect((await run([...args, '--help'], env)).stdout, args.join(' ')).toMatch(/--json +print the API response as JSON/);
    }
  });

  it('answers --version, -o yaml, devices ls filters, device show as text, and rollout show --watch until the rollout ends', async () => {
    const version = (JSON.parse(readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8')) as { version: string }).version;
    for (const flag of ['--version', '-V']) expect((await run([flag], env)).stdout).toBe(`edgefleet ${version}\n`);

    for (const [id, site] of [['dev-f1', 'north'], ['dev-f2', 'south'], ['dev-f3', 'north']] as const) {
      expect((await run(['device', 'add', id, '--tag', `site=${site}`], env)).code).toBe(0);
    }
    // -o yaml is the API's own answer as YAML
    const yamlLs = await run(['devices', 'ls', '-o', 'yaml'], env);
    expect(yamlLs.code, yamlLs.stderr).toBe(0);
    expect(parseYaml(yamlLs.stdout)).toEqual(await api('/devices'));
    expect((await run(['devices', 'ls', '-o', 'xml'], env)).code).toBe(2);
    expect((await run(['devices', 'ls', '--json', '-o', 'yaml'], env)).code).toBe(2);

    // filters go to the API's device query
    const north = await run(['devices', 'ls', '--tag', 'site=north'], env);
    expect(north.code, north.stderr).toBe(0);
    expect(north.stdout.split('\n').slice(1).filter(Boolean).map((l) => l.split(/\s+/)[0])).toEqual(['dev-f1', 'dev-f3']);
    const filtered = (await asJson(['devices', 'ls', '--tag', 'site=north', '--status', 'offline', '--limit', '1'])) as { devices: Array<{ id: string }>; total: number };
    expect([filtered.devices.map((d) => d.id), filtered.total]).toEqual([['dev-f1'], 2]);
    expect((await asJson(['devices', 'ls', '--tag', 'site=north', '--status', 'online'])).devices).toEqual([]);
    expect((await run(['devices', 'ls', '--status', 'away'], env)).code).toBe(2);
    expect((await run(['devices', 'ls', '--silent', 'soon'], env)).code).toBe(2);

    // device show reads as text without --json
    const show = await run(['device', 'show', 'dev-f2'], env);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/^device dev-f2\n {2}status +offline, last seen -\n {2}tags +site=south\n/);

    // --watch on a rollout that is over prints it once and exits 0 for completed
    const started = await run(['rollout', 'start', 'tiny@1.0.0', '--device', 'dev-f2', '--waves', '100', '--soak', '0', '--json'], env);
    expect(started.code, started.stderr).toBe(0);
    const id = (JSON.parse(started.stdout) as { rollout: { id: string } }).rollout.id;
    const watched = await run(['rollout', 'show', id, '--watch', '--interval', '200ms'], env);
    expect([watched.code, watched.stdout.match(/^rollout /gm)?.length]).toEqual([0, 1]);
    expect(watched.stdout).toMatch(/created +\d+s ago \(20\d\d-/);
    expect((await run(['rollout', 'show', id, '--interval', '1s'], env)).code).toBe(2);
  });

  it('prints the API’s answer with --json when removing a device or a webhook', async () => {
    expect((await run(['device', 'add', 'dev-gone'], env)).code).toBe(0);
    expect(await asJson(['device', 'rm', 'dev-gone'])).toEqual({ removed: 'dev-gone' });
    const added = (await asJson(['webhook', 'add', 'http://127.0.0.1:9/hook'])) as { webhook: { id: string; url: string } };
    expect(added.webhook.url).toBe('http://127.0.0.1:9/hook');
    expect(await asJson(['webhook', 'rm', added.webhook.id])).toEqual({ removed: added.webhook.id });
    expect((await api('/webhooks')).webhooks).toEqual([]);
  });

  it('refuses a --role or --on-fail value the API does not take before sending anything', async () => {
    const before = await snapshot();
    refused(await run(['token', 'create', '--role', 'root'], env), /token create: --role must be one of viewer, operator, admin, got "root"/);
    refused(await run(['rollout', 'start', 'tiny@1.0.0', '--all', '--on-fail', 'explode'], env), /rollout start: --on-fail must be one of pause, rollback, got "explode"/);
    expect(await snapshot()).toEqual(before);
  });

  it('runs nothing when imported: the bin calls run()', async () => {
    const write = vi.spyOn(process.stdout, 'write');
    const exitCode = process.exitCode;
    try {
      const cli = await import('../src/cli/main.js');
      expect(typeof cli.run).toBe('function');
      expect(write).not.toHaveBeenCalled();
      expect(process.exitCode).toBe(exitCode);
    } finally {
      write.mockRestore();
    }
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
