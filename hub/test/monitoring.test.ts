// The example alert rules and Grafana dashboard (hub/monitoring/) against a real hub's /metrics: every
// metric they name is exposed, and every label value they select on exists before its first event, so a
// rule neither silently matches nothing after a rename nor waits for a series that appears only later; and
// promtool (the Prometheus project's own linter) accepts the rules file and the exposition.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { createWindow, histogramAdd, topics, type TelemetryBatch } from '@edgefleet/protocol';
import type { Hub } from '@edgefleet/hub';
import { apiClient, connectDevice, endClient, startTestHub, tempDir, tinyModel, waitFor } from './helpers.js';

const DIR = fileURLToPath(new URL('../monitoring/', import.meta.url));

interface Rule {
  alert: string;
  expr: string;
  labels?: { severity?: string };
  annotations?: { summary?: string };
}

/** Each `edgefleet_…` metric an expression names, with the label matchers it puts on it. */
function selectors(expr: string): Array<{ name: string; matchers: Array<[string, string]> }> {
  return [...expr.matchAll(/(edgefleet_[a-z0-9_]+)(\{([^}]*)\})?/g)].map((m) => ({
    name: m[1]!,
    matchers: [...(m[3] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!] as [string, string]),
  }));
}

/** One telemetry window of `tiny@1.0.0` from `deviceId`: five calls, one failed. */
function latencyBatch(deviceId: string): TelemetryBatch {
  const start = Math.floor(Date.now() / 60_000) * 60_000;
  const w = createWindow('tiny', '1.0.0', 'active', start, start + 60_000);
  for (const ms of [0.4, 0.9, 3, 12, 700]) histogramAdd(w.latencyMs, ms);
  w.inferences = 5;
  w.errors = { INFERENCE_FAILED: 1 };
  return { deviceId, seq: 1, windows: [w], dropped: 0 };
}

describe('monitoring examples', () => {
  let hub: Hub;
  let dir: ReturnType<typeof tempDir>;
  /** /metrics of the fresh hub, then after one device reported a telemetry window and one refused message. */
  let fresh = '';
  let reporting = '';
  beforeAll(async () => {
    dir = tempDir();
    hub = await startTestHub(dir.path);
    fresh = await (await fetch(`${hub.urls.http}/metrics`)).text();
    const api = apiClient(hub.urls.http, hub.adminToken);
    expect((await api.pushModel(tinyModel(), { name: 'tiny', version: '1.0.0' })).status).toBe(201);
    const token = (await api.post('/devices', { id: 'mon-1', tags: { site: 'a' } })).body.token;
    const device = await connectDevice(hub.urls.mqtt!, 'mon-1', token);
    try {
      await device.publishAsync(topics.telemetry('mon-1'), JSON.stringify(latencyBatch('mon-1')), { qos: 1 });
      await device.publishAsync(topics.telemetry('mon-1'), '{"not":"a batch"}', { qos: 1 });
      await waitFor(async () => {
        await hub.flush();
        return hub.metrics.get('edgefleet_telemetry_batches_total') === 1;
      }, 'the batch committed');
    } finally {
      await endClient(device);
    }
    await hub.metrics.refresh();
    reporting = await (await fetch(`${hub.urls.http}/metrics`)).text();
  });
  afterAll(async () => {
    await hub.close();
    dir.remove();
  });

  /** `promtool ARGS` with `input` on stdin (Debian's prometheus package; scripts/install-system-deps.sh). */
  const promtool = (args: string[], input?: string) => spawnSync('promtool', args, { input, encoding: 'utf8', timeout: 30_000 });

  // a histogram's series (`_bucket`, `_sum`, `_count`) belong to its family
  const familyOf = (text: string, name: string) => {
    const base = name.replace(/_(bucket|sum|count)$/, '');
    return base !== name && new RegExp(`\\n# TYPE ${base} histogram(\\n|$)`).test(text) ? base : name;
  };
  const series = (text: string, name: string, matchers: Array<[string, string]>) =>
    text.split('\n').some((line) => line.startsWith(`${name}{`) && matchers.every(([k, v]) => line.includes(`${k}="${v}"`)));
  // the family is declared on a fresh hub, and a label value selected on has its series already — unless the
  // family's label sets are discovered (devices per model version, latency per version: no series before the
  // first device reports), then it has them once one did
  const exposed = (name: string, matchers: Array<[string, string]>) => {
    const family = familyOf(fresh, name);
    if (!fresh.includes(`\n# TYPE ${family} `)) return false;
    if (matchers.length === 0) return true;
    const discovered = !fresh.split('\n').some((line) => line.startsWith(`${family}{`) || line.startsWith(`${family}_bucket{`));
    return series(discovered ? reporting : fresh, name, matchers);
  };

  it('alert rules: well formed, and every series they select exists on a fresh hub', () => {
    const doc = parseYaml(readFileSync(join(DIR, 'alerts.yml'), 'utf8')) as { groups: Array<{ name: string; rules: Rule[] }> };
    const rules = doc.groups.flatMap((g) => g.rules);
    expect(rules.length).toBeGreaterThanOrEqual(8);
    expect(new Set(rules.map((r) => r.alert)).size).toBe(rules.length);
    for (const r of rules) {
      expect(r.alert).toMatch(/^Edgefleet[A-Z]\w+$/);
      expect(['critical', 'warning'], r.alert).toContain(r.labels?.severity);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
      for (const s of selectors(r.expr)) expect(exposed(s.name, s.matchers), `${r.alert}: ${s.name}${JSON.stringify(s.matchers)}`).toBe(true);
    }
  });

  it('Grafana dashboard: every panel query names metrics the hub exposes', () => {
    const dash = JSON.parse(readFileSync(join(DIR, 'grafana-dashboard.json'), 'utf8')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
    const exprs = dash.panels.flatMap((p) => p.targets.map((t) => ({ title: p.title, expr: t.expr })));
    expect(exprs.length).toBeGreaterThanOrEqual(10);
    for (const { title, expr } of exprs) {
      const found = selectors(expr);
      expect(found.length, title).toBeGreaterThan(0);
      for (const s of found) expect(exposed(s.name, s.matchers), `${title}: ${s.name}`).toBe(true);
    }
  });

  it('alert rules pass promtool check rules', () => {
    const r = promtool(['check', 'rules', join(DIR, 'alerts.yml')]);
    expect(r.error, 'promtool missing: run scripts/install-system-deps.sh').toBeUndefined();
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('/metrics passes promtool check metrics, fresh and with a device reporting (histogram series present)', () => {
    expect(reporting).toContain('edgefleet_inference_latency_seconds_bucket{model="tiny",version="1.0.0",role="active",le="+Inf"} 5\n');
    expect(reporting).toContain('edgefleet_inference_latency_seconds_count{model="tiny",version="1.0.0",role="active"} 5\n');
    for (const text of [fresh, reporting]) {
      const r = promtool(['check', 'metrics'], text);
      expect(r.error, 'promtool missing: run scripts/install-system-deps.sh').toBeUndefined();
      // exit 0 and no lint finding (promtool prints one line per problem)
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect((r.stdout + r.stderr).trim()).toBe('');
    }
  });
});
