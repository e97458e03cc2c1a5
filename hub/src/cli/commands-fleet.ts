// Fleet, token, audit and webhook commands (design §2, §6, §7).

import { parseDuration } from '@edgefleet/protocol';
import type { AuditVerification, DeliveryLog, FleetStatus, HealthGroups, HealthReport, Removed, TokenCreated, TokenRequest, WebhookAdded, WebhookList, WebhookRequest } from './api.js';
import { usageError, type CommandSpec, type Values } from './args.js';
import { createClient } from './client.js';
import { parseTags } from './commands-devices.js';
import { ago, fmt, json, out, table } from './format.js';

/** `fleet health NAME@VERSION`: the health API (design §6) as text, per device, tag group and time range. */
async function fleetHealthCmd(spec: string | undefined, v: Values): Promise<void> {
  const at = spec?.lastIndexOf('@') ?? -1;
  if (!spec || at <= 0) throw usageError('usage: edgefleet fleet health NAME@VERSION [--tag k=v]... [--device ID | --by KEY] [--since 1h]');
  const q = new URLSearchParams({ model: spec.slice(0, at), version: spec.slice(at + 1) });
  if (v.since) {
    const ms = parseDuration(v.since, { unitRequired: true });
    if (ms === null) throw usageError(`--since must look like 30m, 1h or 7d, got ${JSON.stringify(v.since)}`);
    q.set('from', String(Math.floor(Date.now() - ms)));
  }
  for (const t of v.tag ?? []) q.append('tag', t);
  if (v.shadow) q.set('role', 'shadow');
  if (v.by) return fleetHealthGroups(spec, q, v);
  if (v.device?.length) q.set('device', v.device[0]!);
  const h = await createClient(v).request<HealthReport>('GET', `/health?${q}`);
  if (v.json) return json(h);
  const t = h.totals;
  let s = `${h.model}@${h.version}${h.device ? ` on ${h.device}` : ''}${v.tag?.length ? ` [${v.tag.join(', ')}]` : ''}${v.shadow ? ' (shadow)' : ''}, ${new Date(h.from).toISOString()} → ${new Date(h.to).toISOString()}\n`;
  s += `  devices     ${t.devices}\n  inferences  ${t.inferences}, errors ${t.errors} (${t.errorRate === null ? '-' : `${(t.errorRate * 100).toFixed(2)}%`})\n`;
  s += `  latency     p50 ${fmt(t.latencyMs.p50)} ms, p95 ${fmt(t.latencyMs.p95)} ms, p99 ${fmt(t.latencyMs.p99)} ms\n`;
  const a = h.accuracy;
  s += `  accuracy    ${a.p === null ? '-' : `${(a.p * 100).toFixed(2)}% [${((a.low ?? 0) * 100).toFixed(2)}%, ${((a.high ?? 0) * 100).toFixed(2)}%]`} on ${a.labelled} labels (coverage ${a.coverage === null ? '-' : `${(a.coverage * 100).toFixed(1)}%`})\n`;
  const e = h.estimatedAccuracy;
  const pc = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(2)}%`);
  if (e) {
    s += `  estimated   ${e.p === null ? '-' : `${pc(e.p)} [${pc(e.low)}, ${pc(e.high)}]`} without labels (CBPE) on ${e.n} predictions with confidences
`;
    const c = h.calibration;
    s += `  calibration ${c.verdict === 'insufficient-data' ? 'no verdict' : c.verdict === 'calibrated' ? 'calibrated' : 'not calibrated'}: ${c.detail}
`;
  }
  if (h.shadow) s += `  shadow      ${(h.shadow.rate * 100).toFixed(2)}% agreement (${h.shadow.agreed} of ${h.shadow.compared})\n`;
  if (h.drift.length) {
    s += '\ndrift against the reference\n';
    s += table([['FEATURE', 'PSI', 'CRITICAL', 'JS', 'N', 'VERDICT'], ...h.drift.map((d) => [d.feature, d.psi.toFixed(3), d.critical === null ? '-' : d.critical.toFixed(3), d.js.toFixed(3), String(d.n), d.verdict])]);
  }
  const mix = h.predictionMix;
  const observed = mix.observed;
  if (mix.kind && observed) {
    s += '\nprediction mix\n';
    s += table([['CLASS', 'OBSERVED', 'REFERENCE'], ...mix.labels.map((l, i) => [l, `${((observed[i] ?? 0) * 100).toFixed(1)}%`, mix.reference ? `${((mix.reference[i] ?? 0) * 100).toFixed(1)}%` : '-'])]);
  }
  out(s);
}

/** `fleet health NAME@VERSION --by KEY`: one row per tag value, in the dashboard's words (GET /health/groups). */
async function fleetHealthGroups(spec: string, q: URLSearchParams, v: Values): Promise<void> {
  q.set('by', v.by!);
  const res = await createClient(v).request<HealthGroups>('GET', `/health/groups?${q}`);
  if (v.json) return json(res);
  out(`${spec} by ${res.by}${v.tag?.length ? ` [${v.tag.join(', ')}]` : ''}${v.shadow ? ' (shadow)' : ''}, ${ago(res.from)} → now\n`);
  const pct = (x: number | null, digits: number) => (x === null ? '-' : `${(x * 100).toFixed(digits)}%`);
  const rows = [[res.by!.toUpperCase(), 'DEVICES', 'INFERENCES', 'ERROR RATE', 'P95 MS', 'ACCURACY', 'DRIFT']];
  for (const g of res.groups) {
    rows.push([g.value ?? '(untagged)', String(g.devices), String(g.inferences), pct(g.errorRate, 2), fmt(g.latencyMs.p95), pct(g.accuracy.p, 1), g.drift.text]);
  }
  out(table(rows));
  if (!res.groups.length) out('no telemetry for this version in the range\n');
}

async function fleetStatusCmd(v: Values): Promise<void> {
  const res = await createClient(v).request<FleetStatus>('GET', `/fleet/status${v.minutes ? `?minutes=${encodeURIComponent(v.minutes)}` : ''}`);
  if (v.json) return json(res);
  out(`devices  ${res.devices.total} total, ${res.devices.online} online, ${res.devices.offline} offline\n`);
  out(`rollouts ${res.rollouts.total} total, ${res.rollouts.active} active\n`);
  for (const r of res.activeRollouts ?? []) {
    out(`  ${r.id} ${r.model}@${r.version} (${r.role}) ${r.status}, wave ${r.wave + 1}/${r.waves.length}${r.percent !== null ? ` (${r.percent}%)` : ''}${r.pausedReason ? ` — ${r.pausedReason}` : ''}\n`);
  }
  out('\n');
  if (res.versions.length) {
    out('versions in use\n');
    out(table([['MODEL', 'VERSION', 'DEVICES'], ...res.versions.map((x) => [x.model, x.version, String(x.devices)])]));
    out('\n');
  }
  if (res.unknownClaims) {
    out(`${res.unknownClaims} device(s) report an active version this hub never released (not counted above)\n\n`);
  }
  out(`health (last ${res.sinceMinutes} min)\n`);
  // one vocabulary with the dashboard: RUNNING = devices on it now, REPORTING = devices that sent telemetry for it
  const rows = [['MODEL', 'VERSION', 'ROLE', 'RUNNING', 'REPORTING', 'INFERENCES', 'ERROR RATE', 'P50 MS', 'P95 MS', 'P99 MS']];
  for (const h of res.health) {
    rows.push([h.model, h.version, h.role, String(h.running ?? 0), String(h.reportingDevices), String(h.inferences), h.errorRate === null ? '-' : `${(h.errorRate * 100).toFixed(2)}%`, fmt(h.latencyMs.p50), fmt(h.latencyMs.p95), fmt(h.latencyMs.p99)]);
  }
  out(table(rows));
  out('running: devices whose reported version it is now; reporting: devices that sent telemetry for it in the window\n');
}

async function tokenCreate(v: Values): Promise<void> {
  const body: TokenRequest = { role: ROLES.find((r) => r === v.role)!, ...(v.name ? { name: v.name } : {}) };
  const res = await createClient(v).request<TokenCreated>('POST', '/tokens', body);
  if (v.json) return json(res);
  out(`${res.token}\n`);
  process.stderr.write(`token ${res.id} (${res.role}); shown once, stored only hashed\n`);
}

async function auditVerify(v: Values): Promise<void> {
  const res = await createClient(v).request<AuditVerification>('GET', '/audit/verify');
  if (v.json) json(res);
  else if (res.ok) out(`audit log intact: ${res.entries} entries\n`);
  else out(`audit log BROKEN at row ${res.brokenAt}${res.reason ? ` (${res.reason})` : ''}: ${res.message ?? 'hash chain does not hold'}\n${res.entries} entries before it verify\n`);
  if (!res.ok) process.exitCode = 1;
}

const SINCE = /^(\d+(?:\.\d+)?)(s|m|h|d)$/;
/** The roles POST /tokens takes; one the API drops fails to compile. */
const ROLES = ['viewer', 'operator', 'admin'] as const satisfies ReadonlyArray<TokenRequest['role']>;

export const FLEET_COMMANDS: CommandSpec[] = [
  {
    words: ['fleet', 'status'],
    summary: 'Devices online/offline, active rollouts, versions in use, per-version health.',
    options: ['minutes'],
    client: true,
    run: (_pos, v) => fleetStatusCmd(v),
  },
  {
    words: ['fleet', 'health'],
    summary: 'One model version’s health: latency, errors, accuracy, drift per feature, prediction mix; --by site: one row per tag value.',
    positionals: [{ name: 'NAME@VERSION' }],
    options: ['tag', 'device', 'since', 'shadow', 'by'],
    client: true,
    check: (v, pos) => {
      if (pos[0]!.lastIndexOf('@') <= 0) throw usageError('usage: edgefleet fleet health NAME@VERSION [--tag k=v]... [--device ID | --by KEY] [--since 1h]');
      parseTags(v.tag);
      if ((v.device?.length ?? 0) > 1) throw usageError('fleet health takes one --device');
      if (v.by && v.device?.length) throw usageError('fleet health takes --by or --device, not both');
      if (v.by !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(v.by)) throw usageError(`--by takes a tag key (site, region, …), got ${JSON.stringify(v.by)}`);
      if (v.since && !SINCE.test(v.since)) throw usageError(`--since must look like 30m, 1h or 7d, got ${JSON.stringify(v.since)}`);
    },
    run: (pos, v) => fleetHealthCmd(pos[0], v),
  },
  {
    words: ['token', 'create'],
    summary: 'Create an API token (printed once, stored only hashed).',
    options: ['role', 'name'],
    required: ['role'],
    choices: { role: ROLES },
    client: true,
    run: (_pos, v) => tokenCreate(v),
  },
  {
    words: ['audit', 'verify'],
    summary: 'Check the audit log hash chain; names the first broken row and exits 1 then.',
    client: true,
    run: (_pos, v) => auditVerify(v),
  },
  {
    words: ['webhook', 'ls'],
    aliases: [['webhook'], ['webhook', 'list']],
    summary: 'Webhook receivers, configured and API-added.',
    client: true,
    run: async (_pos, v) => {
      const res = await createClient(v).request<WebhookList>('GET', '/webhooks');
      if (v.json) return json(res);
      out(table([['ID', 'URL', 'SOURCE'], ...res.webhooks.map((w) => [w.id, w.url, w.source])]));
    },
  },
  {
    words: ['webhook', 'add'],
    summary: 'Add a webhook receiver URL.',
    positionals: [{ name: 'URL' }],
    client: true,
    run: async (pos, v) => {
      const body: WebhookRequest = { url: pos[0]! };
      const res = await createClient(v).request<WebhookAdded>('POST', '/webhooks', body);
      return v.json ? json(res) : out(`webhook ${res.webhook.id} added: ${res.webhook.url}\n`);
    },
  },
  {
    words: ['webhook', 'rm'],
    aliases: [['webhook', 'remove']],
    summary: 'Remove a webhook receiver added through the API.',
    positionals: [{ name: 'ID' }],
    client: true,
    run: async (pos, v) => {
      const res = await createClient(v).request<Removed>('DELETE', `/webhooks/${encodeURIComponent(pos[0]!)}`);
      return v.json ? json(res) : out(`webhook ${pos[0]} removed\n`);
    },
  },
  {
    words: ['webhook', 'deliveries'],
    summary: 'The webhook delivery log, newest first.',
    options: ['event', 'limit'],
    client: true,
    run: async (_pos, v) => {
      const q = new URLSearchParams();
      if (v.event) q.set('event', v.event);
      if (v.limit) q.set('limit', v.limit);
      const res = await createClient(v).request<DeliveryLog>('GET', `/webhooks/deliveries${q.size ? `?${q}` : ''}`);
      if (v.json) return json(res);
      out(table([['TIME', 'EVENT', 'URL', 'ATTEMPT', 'STATUS', 'ERROR'], ...res.deliveries.map((d) => [d.startedAt, d.event, d.url, String(d.attempt), d.status === null ? '-' : String(d.status), d.error ?? ''])]));
      out(`delivered ${res.stats.delivered}, failed ${res.stats.failed}, dropped (queue full) ${res.stats.dropped} since the hub started\n`);
    },
  },
];
