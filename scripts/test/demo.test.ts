// `npm run demo` headless: the demo in a child process with --duration stops by itself with
// exit 0, leaves no process or listener behind, its fleet ends on v2, and the retraining loop trains v3 on site b's
// captured data and raises site b's accuracy — read from the hub's API.

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
  it('runs headless for --duration: v2 passes its gated waves, the bad 2.1 build is rolled back, site b’s drift retrains v3 on captured data and its accuracy rises, exit 0, nothing left running', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', '--duration', '140', '--data', dataDir, '--http', '127.0.0.1:0', '--soak', '8'], {
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

    // the loop (design §4 capture): site b drifts, its drift alarm sends the retraining service to work, which
    // trains v3 on site b's captured labelled rows (v3's lineage names that export's hash) and rolls it out to
    // site b, where the realized accuracy rises above v2's on the same drifted inputs
    type Accuracy = { labelled: number; p: number | null };
    const accuracyOnB = async (version: string): Promise<Accuracy> =>
      (await get<{ accuracy: Accuracy }>(`/health?${new URLSearchParams({ model: demo.model, version, tag: 'site=b' })}`)).accuracy;
    const v3 = await until(() => rollout('3.0.0'), (r) => r !== undefined);
    expect(v3, output).toBeDefined();
    const before = await accuracyOnB('2.0.0');
    type Versions = { versions: Array<{ version: string; manifest: { lineage: { dataset?: { id?: string; sha256?: string } } } }> };
    const lineage = (await get<Versions>(`/models/${demo.model}`)).versions.find((v) => v.version === '3.0.0')?.manifest.lineage.dataset;
    const { exports } = await get<{ exports: Array<{ sha256: string; model: string; version: string }> }>('/datasets');
    expect(lineage).toEqual({ id: `captured:${demo.model}@2.0.0`, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(exports).toContainEqual(expect.objectContaining({ sha256: lineage!.sha256, model: demo.model, version: '2.0.0' }));
    expect((await get<{ rollouts: Array<{ version: string; targets: unknown }> }>('/rollouts')).rollouts.find((r) => r.version === '3.0.0')?.targets).toEqual({ tags: [{ site: 'b' }] });
    const after = await until(() => accuracyOnB('3.0.0'), (a) => a.labelled >= 50);
    expect(after?.labelled ?? 0, output).toBeGreaterThanOrEqual(50);
    expect(before.labelled).toBeGreaterThan(0);
    expect(after!.p!).toBeGreaterThan(before.p!);

    expect(await exited, output).toBe(0);
    expect(output).toMatch(/--duration 140 s reached/);
    // nothing left: no process naming the data dir, no listener on the hub's ports
    expect(processesUsing(dataDir)).toEqual([]);
    expect(await accepts(demo.http)).toBe(false);
    expect(await accepts(demo.mqtt)).toBe(false);
  }, 240_000);
});
