// The example alert rules and Grafana dashboard (hub/monitoring/) against a real hub's /metrics: every
// metric they name is exposed, and every label value they select on exists before its first event, so a
// rule neither silently matches nothing after a rename nor waits for a series that appears only later.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { Hub } from '@edgefleet/hub';
import { startTestHub, tempDir } from './helpers.js';

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

describe('monitoring examples', () => {
  let hub: Hub;
  let dir: ReturnType<typeof tempDir>;
  let exposition = '';
  beforeAll(async () => {
    dir = tempDir();
    hub = await startTestHub(dir.path);
    exposition = await (await fetch(`${hub.urls.http}/metrics`)).text();
  });
  afterAll(async () => {
    await hub.close();
    dir.remove();
  });

  // the family is declared; a label value selected on has its series already (a family of discovered label
  // sets, like devices per model version, has none before the first device reports)
  const exposed = (name: string, matchers: Array<[string, string]>) =>
    exposition.includes(`\n# TYPE ${name} `) &&
    (matchers.length === 0 || exposition.split('\n').some((line) => line.startsWith(`${name}{`) && matchers.every(([k, v]) => line.includes(`${k}="${v}"`))));

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
});
