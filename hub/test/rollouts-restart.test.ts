// A gated rollout survives a hub killed with SIGKILL (design §7): restarted on the same data dir and ports it
// resumes at the same wave, re-sends nothing (desired-state sequences per device) and reshuffles nobody.
// Driven through the CLI (`rollout start/show`, `fleet status`, `fleet health`) against `edgefleet hub start`.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulatedFleet, type SimulatedFleet } from '../../scripts/sim/fleet.js';
import { trainVibrationModels } from '../../scripts/sim/models.js';
import { apiClient } from './helpers.js';

const BIN = fileURLToPath(new URL('../bin/edgefleet.js', import.meta.url));
const BUILT = existsSync(fileURLToPath(new URL('../dist/cli/main.js', import.meta.url)));
const CLI = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const cmd = (args: string[]) => (BUILT ? [BIN, ...args] : ['--import', 'tsx', CLI, ...args]);

function run(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, cmd(args), { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function startChild(data: string, http: string, mqtt: string): Promise<{ child: ChildProcess; urls: Record<string, string> }> {
  const child = spawn(process.execPath, cmd(['hub', 'start', '--data', data, '--http', http, '--mqtt', mqtt, '--ws', 'off', '--rollout-tick-ms', '100']), {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const urls: Record<string, string> = {};
  for await (const line of createInterface({ input: child.stdout! })) {
    const m = /^\s+(http|mqtt)\s+(\S+)$/.exec(line);
    if (m) urls[m[1]!] = m[2]!;
    if (urls.http && urls.mqtt) break;
  }
  return { child, urls };
}

const children: ChildProcess[] = [];
let fleet: SimulatedFleet | undefined;
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgefleet-restart-'));
});
afterAll(async () => {
  await fleet?.close();
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('gated rollout across a hub crash', () => {
  it('resumes at the same wave after SIGKILL, without re-sending or reshuffling, and completes', async () => {
    const data = join(dir, 'data');
    let { child, urls } = await startChild(data, '127.0.0.1:0', '127.0.0.1:0');
    const token = readFileSync(join(data, 'admin-token'), 'utf8').trim();
    const env = { EDGEFLEET_HUB: urls.http!, EDGEFLEET_TOKEN: token };
    const api = apiClient(urls.http!, token);
    const { v1, v2 } = trainVibrationModels();
    fleet = await createSimulatedFleet({ hub: urls.http!, token, devices: 12, rate: 5, flushSeconds: 1, dataDir: join(dir, 'fleet') });
    await fleet.hub.pushModel({ name: 'vibration', version: '1.0.0', file: v1.bytes, validation: v1.validation });
    await fleet.hub.pushModel({ name: 'vibration', version: '2.0.0', file: v2.bytes, validation: v2.validation });
    const allAtOnce = await run(['rollout', 'start', 'vibration@1.0.0', '--all', '--waves', '100', '--soak', '0'], env);
    expect(allAtOnce.stdout).toMatch(/all at once/);
    await fleet.waitForVersion('1.0.0', { timeoutMs: 60_000 });

    const started = await run(
      // this test is about the crash, not evidence: a wave without it passes at the soak's end (--on-no-evidence pass)
      ['rollout', 'start', 'vibration@2.0.0', '--all', '--waves', '25,50,100', '--soak', '2s', '--max-soak', '2s', '--on-no-evidence', 'pass', '--gate', 'minSamples=20', '--gate', 'driftMinCount=200', '--gate', 'maxP95RegressionPct=1000', '--json'],
      env,
    );
    expect(started.code, started.stderr).toBe(0);
    const id: string = JSON.parse(started.stdout).rollout.id;
    const status = await run(['fleet', 'status'], env);
    expect(status.stdout).toMatch(new RegExp(`${id} vibration@2\\.0\\.0 \\(active\\) (running|soaking), wave [12]/3 \\((25|50)%\\)`));
    // wait until the second wave soaks (its devices installed: no download cut by the crash), then kill
    // the hub without any cleanup
    await expect
      .poll(async () => {
        const r = (await api.get(`/rollouts/${id}`)).body.rollout;
        return r.wave >= 1 && r.status === 'soaking';
      }, { timeout: 60_000, interval: 50 })
      .toBe(true);
    const sequences = async () => {
      const out: Record<string, number> = {};
      for (const d of fleet!.devices) out[d.id] = (await api.get(`/devices/${d.id}/desired`)).body.sequence;
      return out;
    };
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    // where it was when killed: the rollout state and every device's desired-state sequence, from the database
    const db = new Database(join(data, 'hub.db'), { readonly: true });
    const state = JSON.parse((db.prepare('SELECT state FROM rollouts WHERE id = ?').get(id) as { state: string }).state);
    const seqBefore = Object.fromEntries(
      (db.prepare('SELECT device_id, sequence FROM desired_states').all() as Array<{ device_id: string; sequence: number }>).map((r) => [r.device_id, r.sequence]),
    ) as Record<string, number>;
    db.close();
    expect(['running', 'soaking']).toContain(state.status);

    ({ child, urls } = await startChild(data, urls.http!.replace('http://', ''), urls.mqtt!.replace('mqtt://', '')));
    const after = (await api.get(`/rollouts/${id}`)).body.rollout;
    expect(after.wave).toBe(state.wave);
    // same devices in the same waves: nothing reshuffled
    const members = (waves: any[]) => waves.map((w) => w.deviceIds.slice().sort());
    expect(after.waves.map((w: any) => Object.values(w.byOutcome).flat().sort())).toEqual(members(state.waves));
    const sent: string[] = members(state.waves).flat();
    // nothing re-sent on restart: every device that was sent keeps its sequence
    const seqAfter = await sequences();
    for (const d of sent) expect(seqAfter[d], d).toBe(seqBefore[d]);

    await expect
      .poll(async () => (await api.get(`/rollouts/${id}`)).body.rollout.status, { timeout: 90_000, interval: 200 })
      .not.toMatch(/^(running|soaking)$/);
    const done = (await api.get(`/rollouts/${id}`)).body.rollout;
    expect(done.status, JSON.stringify(done.waves.map((w: any) => [w.outcome, w.counts, w.gates.filter((g: any) => g.pass === false)]))).toBe('completed');
    await fleet.waitForVersion('2.0.0', { timeoutMs: 60_000 });
    // waves 1 and 2 were never sent again after the crash; the last wave got exactly one new desired state
    const seqEnd = await sequences();
    for (const d of fleet.devices) expect(seqEnd[d.id], d.id).toBe(sent.includes(d.id) ? seqBefore[d.id] : seqBefore[d.id]! + 1);

    const show = await run(['rollout', 'show', id], env);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/status\s+completed/);
    expect(show.stdout).toMatch(/WAVE\s+PERCENT\s+OUTCOME\s+DEVICES\s+CONVERGED/);
    expect(show.stdout).toMatch(/^3\s+100%\s+passed/m);
    for (const g of ['device-failure-rate', 'min-reporting-devices', 'error-rate', 'p95-latency-regression', 'drift', 'accuracy-drop']) {
      expect(show.stdout).toMatch(new RegExp(`^${g}\\s`, 'm'));
    }
    // the last wave's soak may hold too few samples for a verdict (the value then says how many of how many
    // it had); the row must show the limit either way
    expect(show.stdout).toMatch(/p95-latency-regression\s+([−+]?[\d.]+ %|\d+ of \d+ [a-z ]*latency samples|no verdict)\s+≤ \+1000 %\s+(pass|no verdict)/);
    const health = await run(['fleet', 'health', 'vibration@2.0.0', '--since', '1h'], env);
    expect(health.code, health.stderr).toBe(0);
    expect(health.stdout).toMatch(/devices\s+12/);
    expect(health.stdout).toMatch(/drift against the reference/);
    const one = await run(['fleet', 'health', 'vibration@2.0.0', '--device', 'sim-3', '--json'], env);
    expect(JSON.parse(one.stdout).totals.devices).toBe(1);
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }, 120_000);
});
