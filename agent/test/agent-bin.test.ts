// The `edgefleet-agent` bin (design §2): a bad config is one clear line and a non-zero exit; SIGTERM stops
// it cleanly (status `offline` retained, exit 0).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { topics } from '@edgefleet/protocol';
import { startHub, type Hub } from '@edgefleet/hub';
import { classifier, startHarness, tmpDir, type Harness } from './support/fleet-harness.js';
import { hubApi } from './support/hub-api.js';

const BIN = fileURLToPath(new URL('../bin/edgefleet-agent.js', import.meta.url));
const built = fs.existsSync(fileURLToPath(new URL('../dist/bin.js', import.meta.url)));

function run(args: string[], onStdout?: (text: string, kill: (sig: NodeJS.Signals) => void) => void): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      onStdout?.(stdout, (sig) => child.kill(sig));
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

let h: Harness | null = null;
let hub: Hub | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
  await hub?.close();
  hub = null;
});

describe.skipIf(!built)('edgefleet-agent bin', () => {
  it('refuses a config that does not validate with the field and a non-zero exit', async () => {
    const file = path.join(tmpDir(), 'agent.json');
    fs.writeFileSync(file, JSON.stringify({ deviceId: 'Bad Id!', brokers: {}, username: 'x', password: 'short', rootPublicKey: 'AAAA' }));
    const r = await run(['--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/BAD_INPUT: invalid agent config: deviceId/);
  });

  it('refuses a missing --config and unreadable files', async () => {
    expect((await run([])).code).toBe(2);
    const r = await run(['--config', '/nonexistent/agent.json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot read config/);
  });

  it('answers the Host names given with --api-host besides loopback, refuses others, and refuses a malformed one', async () => {
    h = await startHarness();
    const file = path.join(tmpDir(), 'agent.json');
    fs.writeFileSync(file, JSON.stringify(h.agentConfig('dev-hosts')));
    const bad = await run(['--config', file, '--api-host', 'evil.example/path']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/BAD_INPUT: invalid API host/);
    const statuses: Record<string, number> = {};
    let started = false;
    const r = await run(['--config', file, '--quiet', '--api-host', 'edge-box.local', '--api-host', 'gw.lan:9000'], (text, kill) => {
      const url = /api=(http:\S+)/.exec(text)?.[1];
      if (url === undefined || started) return;
      started = true;
      const { port } = new URL(url);
      const status = (host: string) =>
        new Promise<number>((resolve, reject) =>
          http
            .request({ host: '127.0.0.1', port, path: '/v2/health/live', headers: { host } }, (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            })
            .on('error', reject)
            .end(),
        );
      void (async () => {
        for (const host of [`127.0.0.1:${port}`, `edge-box.local:${port}`, 'gw.lan:9000', `gw.lan:${port}`, `attacker.example:${port}`]) statuses[host] = await status(host);
      })().finally(() => kill('SIGTERM'));
    });
    expect(r.code).toBe(0);
    expect(Object.values(statuses)).toEqual([200, 200, 200, 403, 403]);
  });

  it('stops cleanly on SIGTERM and leaves status offline retained', async () => {
    h = await startHarness();
    const file = path.join(tmpDir(), 'agent.json');
    fs.writeFileSync(file, JSON.stringify(h.agentConfig('dev-bin')));
    const harness = h;
    let sent = false;
    const r = await run(['--config', file, '--quiet'], (_text, kill) => {
      if (sent) return;
      sent = true;
      const t0 = Date.now();
      const wait = setInterval(() => {
        const online = harness.published.some((p) => p.topic === topics.status('dev-bin') && p.payload.toString() === 'online');
        if (online || Date.now() - t0 > 10_000) {
          clearInterval(wait);
          kill('SIGTERM');
        }
      }, 20);
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/edgefleet-agent dev-bin .*api=http:\/\/127\.0\.0\.1:\d+/);
    const status = h.published.filter((p) => p.topic === topics.status('dev-bin')).map((p) => p.payload.toString());
    expect(status).toEqual(['online', 'offline']);
  });

  // The bundle (agent/scripts/build-bin.mjs) swaps mqtt.js's ws/tls/SOCKS stream builders for stand-ins that
  // load the real module on first use: a device given only a ws:// broker must still connect and install.
  it('connects to a ws:// broker only and activates a model rolled out to it', async () => {
    hub = await startHub({ dataDir: tmpDir('ef-hub-'), http: '127.0.0.1:0', mqtt: '127.0.0.1:0', ws: '127.0.0.1:0', log: () => {} });
    const a = hubApi(hub);
    const added = await a.post('/devices', { id: 'dev-bin-ws', tags: {} });
    expect(added.status).toBe(201);
    const config = { ...added.body.agentConfig, brokers: { ws: added.body.agentConfig.brokers.ws } };
    expect(config.brokers.ws).toMatch(/^ws:/);
    expect((await a.push(classifier(6, 40), 'm', '1.0.0')).status).toBe(201);
    expect((await a.post('/rollouts', { model: 'm', version: '1.0.0', targets: { devices: ['dev-bin-ws'] } })).status).toBe(201);
    const file = path.join(tmpDir(), 'agent.json');
    fs.writeFileSync(file, JSON.stringify(config));
    let active = false;
    let polling = false;
    const api = a;
    const r = await run(['--config', file, '--data', tmpDir(), '--quiet'], (_text, kill) => {
      if (polling) return;
      polling = true;
      const t0 = Date.now();
      const poll = async (): Promise<void> => {
        const devices = (await api.get('/devices')).body.devices as Array<{ id: string; reported: { models?: Record<string, { active?: { version: string } | null }> } | null }>;
        active = devices.find((d) => d.id === 'dev-bin-ws')?.reported?.models?.m?.active?.version === '1.0.0';
        if (active || Date.now() - t0 > 60_000) kill('SIGTERM');
        else setTimeout(() => void poll(), 200);
      };
      void poll();
    });
    expect(active).toBe(true);
    expect(r.code).toBe(0);
  });
});
