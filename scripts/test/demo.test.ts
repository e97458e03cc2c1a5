// `npm run demo` headless (issue 6): the demo in a child process with --duration stops by itself with
// exit 0, leaves no process or listener behind, and its fleet ends on v2 — read from the hub's API.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'edgefleet-demotest-'));
const dataDir = join(dir, 'demo-data');

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Processes whose command line names our data dir (the demo and anything it might have started). */
function processesUsing(path: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(path)) out.push(Number(p));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function accepts(url: string): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = net.connect(Number(u.port), u.hostname);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

interface DeviceView {
  id: string;
  reported: { models?: Record<string, { active?: { version: string } | null }> } | null;
}

describe('npm run demo', () => {
  it('runs headless for --duration, ends with v2 active on every healthy device, exits 0 and leaves nothing running', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', '--duration', '60', '--data', dataDir, '--http', '127.0.0.1:0', '--soak', '5'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

    // the demo says where its hub is in a file, for tools like this test
    const info = join(dataDir, 'demo.json');
    const deadline = Date.now() + 30_000;
    while (!existsSync(info) && Date.now() < deadline) await sleep(200);
    expect(existsSync(info), output).toBe(true);
    const demo = JSON.parse(readFileSync(info, 'utf8')) as { pid: number; http: string; mqtt: string; tokenFile: string; model: string };
    expect(demo.pid).toBe(child.pid);
    const token = readFileSync(demo.tokenFile, 'utf8').trim();

    // read the fleet from the hub's API while the demo runs: every device ends up reporting v2 active
    let last: Record<string, string | null> = {};
    let allOnV2 = false;
    while (!allOnV2 && child.exitCode === null) {
      try {
        const res = await fetch(`${demo.http}/api/v1/devices`, { headers: { authorization: `Bearer ${token}` } });
        const { devices } = (await res.json()) as { devices: DeviceView[] };
        last = Object.fromEntries(devices.map((d) => [d.id, d.reported?.models?.[demo.model]?.active?.version ?? null]));
        allOnV2 = devices.length === 12 && Object.values(last).every((v) => v === '2.0.0');
      } catch {
        // the hub may be starting or stopping
      }
      if (!allOnV2) await sleep(1000);
    }
    expect(last, output).toEqual(Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`pump-${i}`, '2.0.0'])));
    // … through a gated rollout whose three waves each passed their gates
    const { rollouts } = (await (await fetch(`${demo.http}/api/v1/rollouts`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      rollouts: Array<{ id: string; version: string }>;
    };
    const v2 = rollouts.find((r) => r.version === '2.0.0')!;
    let detail: { status: string; waves: Array<{ percent: number; outcome: string }> } = { status: '', waves: [] };
    while (detail.status !== 'completed' && child.exitCode === null) {
      detail = ((await (await fetch(`${demo.http}/api/v1/rollouts/${v2.id}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { rollout: typeof detail }).rollout;
      if (detail.status !== 'completed') await sleep(500);
    }
    expect(detail.status, output).toBe('completed');
    expect(detail.waves.map((w) => [w.percent, w.outcome])).toEqual([[25, 'passed'], [50, 'passed'], [100, 'passed']]);

    expect(await exited, output).toBe(0);
    expect(output).toMatch(/--duration 60 s reached/);
    // nothing left: no process naming the data dir, no listener on the hub's ports
    expect(processesUsing(dataDir)).toEqual([]);
    expect(await accepts(demo.http)).toBe(false);
    expect(await accepts(demo.mqtt)).toBe(false);
  }, 150_000);
});
