// `npm run demo` headless: the demo in a child process with --duration stops by itself with
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
  it('runs headless for --duration: v2 passes its gated waves, the bad 2.1 build is rolled back, the fleet ends on v2, exit 0, nothing left running', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', '--duration', '75', '--data', dataDir, '--http', '127.0.0.1:0', '--soak', '8'], {
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

    const get = async <T>(path: string): Promise<T> => (await (await fetch(`${demo.http}/api/v1${path}`, { headers: { authorization: `Bearer ${token}` } })).json()) as T;
    const versions = async (): Promise<Record<string, string | null>> => {
      const { devices } = await get<{ devices: DeviceView[] }>('/devices');
      return Object.fromEntries(devices.map((d) => [d.id, d.reported?.models?.[demo.model]?.active?.version ?? null]));
    };
    const allOnV2 = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`pump-${i}`, '2.0.0']));
    const onV2 = (v: Record<string, string | null>) => Object.keys(v).length === 12 && Object.values(v).every((x) => x === '2.0.0');
    /** Polls the hub's API while the demo runs until `done` holds; returns the last value. */
    const until = async <T>(read: () => Promise<T>, done: (v: T) => boolean): Promise<T | undefined> => {
      let last: T | undefined;
      while (child.exitCode === null) {
        try {
          last = await read();
          if (done(last)) return last;
        } catch {
          // the hub may be starting or stopping
        }
        await sleep(500);
      }
      return last;
    };
    type Rollout = { id: string; version: string; status: string; waves: Array<{ percent: number; outcome: string }> };
    const rollout = async (version: string): Promise<Rollout | undefined> => {
      const r = (await get<{ rollouts: Rollout[] }>('/rollouts')).rollouts.find((x) => x.version === version);
      return r ? (await get<{ rollout: Rollout }>(`/rollouts/${r.id}`)).rollout : undefined;
    };

    // v2 reaches every device through three gated waves that each passed
    expect(await until(versions, onV2), output).toEqual(allOnV2);
    const v2 = await until(() => rollout('2.0.0'), (r) => r?.status === 'completed');
    expect(v2?.status, output).toBe('completed');
    expect(v2!.waves.map((w) => [w.percent, w.outcome])).toEqual([[25, 'passed'], [50, 'passed'], [100, 'passed']]);
    // the bad 2.1.0 build is stopped and rolled back, and the fleet ends on v2 again
    const bad = await until(() => rollout('2.1.0'), (r) => r?.status === 'rolled-back');
    expect(bad?.status, output).toBe('rolled-back');
    expect(bad!.waves.some((w) => w.outcome === 'failed')).toBe(true);
    expect(await until(versions, onV2), output).toEqual(allOnV2);

    expect(await exited, output).toBe(0);
    expect(output).toMatch(/--duration 75 s reached/);
    // nothing left: no process naming the data dir, no listener on the hub's ports
    expect(processesUsing(dataDir)).toEqual([]);
    expect(await accepts(demo.http)).toBe(false);
    expect(await accepts(demo.mqtt)).toBe(false);
  }, 150_000);
});
