// The `edgefleet-agent` bin (design §2): a bad config is one clear line and a non-zero exit; SIGTERM stops
// it cleanly (status `offline` retained, exit 0).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { topics } from '@edgefleet/protocol';
import { startHarness, tmpDir, type Harness } from './support/fleet-harness.js';

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
afterEach(async () => {
  await h?.close();
  h = null;
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
});
