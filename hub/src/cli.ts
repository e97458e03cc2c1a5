// The `edgefleet` operator CLI (design §2): `hub start` and `keys init` run locally; every other command
// is a client of the hub's HTTP API. Errors print `error CODE: message` and exit non-zero.

import { existsSync, readFileSync, statSync, writeFileSync, createReadStream } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { EdgefleetError, isErrorCode, toBase64 } from '@edgefleet/protocol';

const HELP = `edgefleet — deploy ONNX models to device fleets

Usage:
  edgefleet hub start [--data DIR] [--http HOST:PORT] [--mqtt HOST:PORT] [--ws HOST:PORT] [--broker URL]
                      [--broker-username U] [--broker-password P] [--mosquitto-password-file FILE]
                      [--mosquitto-pid-file FILE] [--public-url URL]
                      [--webhook URL]... [--webhook-secret S]  (webhooks on gate failures, rollout outcomes,
                      device rollbacks, drift alarms, silent devices; the secret may also come from
                      EDGEFLEET_WEBHOOK_SECRET, else <data>/webhook-secret is created)
                      (--mqtt off / --ws off disable a listener; the broker password may also come
                      from EDGEFLEET_BROKER_PASSWORD)
  edgefleet keys init --out DIR
  edgefleet device add ID [--tag k=v]... [--out agent.json]
  edgefleet device tag ID --tag k=v...          replace a device's tags
  edgefleet device rm ID                         remove a device (revokes its credentials)
  edgefleet device show ID                       a device, its reported state and recent events
  edgefleet device command ID rollback|flush-telemetry|resync [--model NAME]
  edgefleet devices ls
  edgefleet model push FILE --name NAME --version SEMVER [--sample REQ.json] [--validation FILE.jsonl]
                      [--reference FILE.json] [--min-accuracy 0.9] [--labels FILE.json]
                      [--dataset ID] [--run ID] [--commit SHA] [--url MIRROR]...
                      (--url: a CDN or object store serving the same bytes with HTTP range requests)
  edgefleet model ls [NAME]
  edgefleet rollout start NAME@VERSION (--all | --tag k=v | --device ID)... [--waves 1,10,50,100]
                      [--soak 10m] [--on-fail pause|rollback] [--shadow] [--gate NAME=VALUE]...
                      [--device-timeout 30m]   (gated waves by default; --waves 100 --soak 0 is all at once;
                      gates: maxDeviceFailureRate, maxErrorRate, maxP95RegressionPct, minSamples,
                      maxDriftedFeatures, driftMinCount, maxAccuracyDrop, minLabels, minLabelCoverage,
                      minReportingDevices, minShadowAgreement, requireVerdict=drift,accuracy-drop)
  edgefleet rollout ls | show ID | pause ID | resume ID | abort ID | promote ID
  edgefleet fleet status [--minutes 60]
  edgefleet fleet health NAME@VERSION [--tag k=v]... [--device ID] [--since 1h] [--shadow]
  edgefleet token create --role viewer|operator|admin [--name NAME]
  edgefleet audit verify                         check the audit hash chain; names the first broken row
  edgefleet webhook ls | add URL | rm ID | deliveries [--event E] [--limit N]

Client options: --hub URL (or EDGEFLEET_HUB, default http://127.0.0.1:8080),
  --token T (or EDGEFLEET_TOKEN, else ./edgefleet-data/admin-token), --json on read commands.
`;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
  hub: { type: 'string' },
  token: { type: 'string' },
  data: { type: 'string' },
  http: { type: 'string' },
  mqtt: { type: 'string' },
  ws: { type: 'string' },
  broker: { type: 'string' },
  'mosquitto-password-file': { type: 'string' },
  'mosquitto-pid-file': { type: 'string' },
  'broker-username': { type: 'string' },
  'broker-password': { type: 'string' },
  'public-url': { type: 'string' },
  webhook: { type: 'string', multiple: true },
  'webhook-secret': { type: 'string' },
  out: { type: 'string' },
  tag: { type: 'string', multiple: true },
  device: { type: 'string', multiple: true },
  all: { type: 'boolean' },
  name: { type: 'string' },
  model: { type: 'string' },
  version: { type: 'string' },
  sample: { type: 'string' },
  validation: { type: 'string' },
  reference: { type: 'string' },
  labels: { type: 'string' },
  'min-accuracy': { type: 'string' },
  dataset: { type: 'string' },
  run: { type: 'string' },
  commit: { type: 'string' },
  url: { type: 'string', multiple: true },
  waves: { type: 'string' },
  soak: { type: 'string' },
  'on-fail': { type: 'string' },
  shadow: { type: 'boolean' },
  gate: { type: 'string', multiple: true },
  'device-timeout': { type: 'string' },
  since: { type: 'string' },
  'rollout-tick-ms': { type: 'string' },
  role: { type: 'string' },
  minutes: { type: 'string' },
  event: { type: 'string' },
  limit: { type: 'string' },
} as const;

type Values = ReturnType<typeof parse>['values'];

function parse(argv: string[]) {
  return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
}

function parseTags(list: string[] | undefined): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const t of list ?? []) {
    const i = t.indexOf('=');
    if (i <= 0) throw new EdgefleetError('BAD_INPUT', `--tag must be k=v, got ${JSON.stringify(t)}`);
    tags[t.slice(0, i)] = t.slice(i + 1);
  }
  return tags;
}

// ---- HTTP client ----

interface Client {
  base: string;
  request<T = any>(method: string, path: string, body?: unknown): Promise<T>;
  token: string;
}

function readTokenFile(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

function client(v: Values): Client {
  const base = (v.hub ?? process.env.EDGEFLEET_HUB ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  const token =
    v.token ?? process.env.EDGEFLEET_TOKEN ?? readTokenFile(join(v.data ?? './edgefleet-data', 'admin-token')) ?? '';
  return {
    base,
    token,
    async request(method, path, body) {
      const headers: Record<string, string> = {};
      if (token) headers.authorization = `Bearer ${token}`;
      let payload: string | undefined;
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        payload = JSON.stringify(body);
      }
      return handle(await send(`${base}/api/v1${path}`, { method, headers, body: payload }, base));
    },
  };
}

async function send(url: string, init: RequestInit, base: string): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    throw new EdgefleetError('UNAVAILABLE', `cannot reach the hub at ${base} (${(err as { cause?: { code?: string } }).cause?.code ?? String(err)})`, {
      cause: err,
    });
  }
}

async function handle<T>(res: Response): Promise<T> {
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { text };
  }
  if (!res.ok) {
    const e = (body as { error?: { code?: string; message?: string } }).error;
    const code = isErrorCode(e?.code) ? e.code : res.status >= 500 ? 'INTERNAL' : 'BAD_INPUT';
    throw new EdgefleetError(code, e?.message ?? `HTTP ${res.status}`);
  }
  return body as T;
}

// ---- output ----

function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

function ago(iso: string | null | undefined): string {
  if (!iso) return '-';
  const s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

const out = (s: string): void => {
  process.stdout.write(s);
};
const json = (v: unknown): void => out(JSON.stringify(v, null, 2) + '\n');
const fmt = (n: number | null | undefined, digits = 2) => (n === null || n === undefined ? '-' : n.toFixed(digits));

// ---- commands ----

async function hubStart(v: Values): Promise<void> {
  // loaded on demand: client commands should not pay for onnxruntime, aedes and SQLite at startup
  const { startHub } = await import('./hub.js');
  const dataDir = resolve(v.data ?? './edgefleet-data');
  let broker = v.broker;
  if (broker) {
    // hub credentials in the URL, or from flags / environment (kept out of shell history)
    let u: URL;
    try {
      u = new URL(broker);
    } catch {
      throw new EdgefleetError('BAD_INPUT', `--broker must be a URL like mqtt://host:1883, got ${JSON.stringify(broker)}`);
    }
    const password = v['broker-password'] ?? process.env.EDGEFLEET_BROKER_PASSWORD;
    if (v['broker-username']) u.username = encodeURIComponent(v['broker-username']);
    if (password) u.password = encodeURIComponent(password);
    broker = u.toString();
  }
  const hub = await startHub({
    dataDir,
    // design §2 defaults
    http: v.http ?? '127.0.0.1:8080',
    mqtt: v.mqtt === 'off' ? null : (v.mqtt ?? '127.0.0.1:1883'),
    ws: v.ws === 'off' ? null : (v.ws ?? '127.0.0.1:8083'),
    ...(broker ? { broker } : {}),
    ...(v['mosquitto-password-file'] ? { mosquittoPasswordFile: v['mosquitto-password-file'] } : {}),
    ...(v['mosquitto-pid-file'] ? { mosquittoPidFile: v['mosquitto-pid-file'] } : {}),
    ...(v['public-url'] ? { publicUrl: v['public-url'] } : {}),
    ...(v.webhook?.length ? { webhooks: v.webhook } : {}),
    // rollout engine ticker (tests and demos use a short one)
    ...(v['rollout-tick-ms'] ? { rolloutTickMs: Number(v['rollout-tick-ms']) } : {}),
    ...((v['webhook-secret'] ?? process.env.EDGEFLEET_WEBHOOK_SECRET) ? { webhookSecret: v['webhook-secret'] ?? process.env.EDGEFLEET_WEBHOOK_SECRET } : {}),
    log: (line) => process.stderr.write(`hub: ${line}\n`),
  });
  out(`edgefleet hub running (data ${dataDir})\n`);
  out(`  http  ${hub.urls.http}\n`);
  if (hub.urls.mqtt) out(`  mqtt  ${hub.urls.mqtt}\n`);
  if (hub.urls.ws) out(`  ws    ${hub.urls.ws}\n`);
  await new Promise<void>((done) => {
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) {
        process.stderr.write(`hub: ${sig} again, exiting now\n`);
        process.exit(130);
      }
      stopping = true;
      process.stderr.write(`hub: ${sig}, shutting down\n`);
      hub.close().then(done, (err) => {
        process.stderr.write(`hub: shutdown failed: ${String(err)}\n`);
        process.exitCode = 1;
        done();
      });
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
}

async function keysInit(v: Values): Promise<void> {
  if (!v.out) throw new EdgefleetError('BAD_INPUT', 'keys init needs --out DIR');
  const { loadOrCreateKeys } = await import('./keys.js');
  const { keys, created } = loadOrCreateKeys(resolve(v.out));
  out(`${created ? 'created' : 'kept existing'} keys in ${resolve(v.out)}\n`);
  out(`  root      ${keys.root.keyId}  (public ${toBase64(keys.root.publicKey)})\n`);
  out(`  release   ${keys.release.keyId}\n`);
  out(`  director  ${keys.director.keyId}\n`);
  out(`  keyring   v${keys.keyring.version}, expires ${keys.keyring.expiresAt}\n`);
  process.stderr.write('warning: production keeps the root key offline; move root.json off this machine after signing the keyring\n');
}

async function deviceCmd(sub: string | undefined, args: string[], v: Values): Promise<void> {
  const c = client(v);
  const id = args[0];
  if (sub === 'add') {
    if (!id) throw new EdgefleetError('BAD_INPUT', 'device add needs an ID');
    const res = await c.request<{ device: { id: string }; token: string; agentConfig: unknown }>('POST', '/devices', { id, tags: parseTags(v.tag) });
    if (v.out) {
      writeFileSync(v.out, JSON.stringify(res.agentConfig, null, 2) + '\n', { mode: 0o600 });
      process.stderr.write(`agent config written to ${v.out} (contains the device token)\n`);
    }
    if (v.json) return json(res);
    out(`device ${res.device.id} added\n`);
    if (!v.out) out(`token ${res.token}\n(shown once; pass --out agent.json to write the agent config)\n`);
    return;
  }
  if (sub === 'tag') {
    if (!id) throw new EdgefleetError('BAD_INPUT', 'device tag needs an ID');
    const res = await c.request<{ device: { id: string; tags: Record<string, string> } }>('PATCH', `/devices/${id}`, { tags: parseTags(v.tag) });
    return v.json ? json(res) : out(`device ${id} tags ${JSON.stringify(res.device.tags)}\n`);
  }
  if (sub === 'rm' || sub === 'remove') {
    if (!id) throw new EdgefleetError('BAD_INPUT', 'device rm needs an ID');
    await c.request('DELETE', `/devices/${id}`);
    return out(`device ${id} removed; its credentials no longer work\n`);
  }
  if (sub === 'show') {
    if (!id) throw new EdgefleetError('BAD_INPUT', 'device show needs an ID');
    return json(await c.request('GET', `/devices/${id}`));
  }
  if (sub === 'command') {
    const action = args[1];
    if (!id || !action) throw new EdgefleetError('BAD_INPUT', 'usage: edgefleet device command ID rollback|flush-telemetry|resync [--model NAME]');
    const res = await c.request<{ command: { sequence: number } }>('POST', `/devices/${id}/commands`, { action, ...(v.name ? { model: v.name } : {}), ...(v.model ? { model: v.model } : {}) });
    return v.json ? json(res) : out(`sent ${action} to ${id} (command sequence ${res.command.sequence})\n`);
  }
  if (sub === 'ls' || sub === 'list') return devicesLs(v);
  throw new EdgefleetError('BAD_INPUT', `unknown device command ${JSON.stringify(sub ?? '')} (add, tag, rm, show, command, ls)`);
}

async function devicesLs(v: Values): Promise<void> {
  const res = await client(v).request<{ devices: any[] }>('GET', '/devices');
  if (v.json) return json(res);
  const rows = [['ID', 'STATUS', 'LAST SEEN', 'SEQ', 'MODELS', 'TAGS']];
  for (const d of res.devices) {
    const models = Object.entries((d.reported?.models ?? {}) as Record<string, any>)
      .map(([m, s]) => `${m}@${s.active?.version ?? '-'}(${s.state}${s.error ? ` ${s.error.code}` : ''})`)
      .join(' ');
    const tags = Object.entries(d.tags as Record<string, string>)
      .map(([k, val]) => `${k}=${val}`)
      .join(',');
    rows.push([d.id, d.status, ago(d.lastSeen), String(d.desiredSequence ?? '-'), models || '-', tags || '-']);
  }
  out(table(rows));
}

/** Stream a multipart upload so the progress bar follows bytes actually sent. */
async function modelPush(file: string | undefined, v: Values): Promise<void> {
  if (!file) throw new EdgefleetError('BAD_INPUT', 'model push needs a FILE');
  if (!v.name || !v.version) throw new EdgefleetError('BAD_INPUT', 'model push needs --name and --version');
  if (!existsSync(file)) throw new EdgefleetError('NOT_FOUND', `no such file ${file}`);
  const c = client(v);
  const readText = (path: string | undefined, what: string) => {
    if (!path) return undefined;
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw new EdgefleetError('NOT_FOUND', `cannot read ${what} ${path}`, { cause: err });
    }
  };
  const fields: Array<[string, string]> = [
    ['name', v.name],
    ['version', v.version],
  ];
  const add = (k: string, val: string | undefined): void => {
    if (val !== undefined) fields.push([k, val]);
  };
  add('sample', readText(v.sample, '--sample'));
  add('validation', readText(v.validation, '--validation'));
  add('reference', readText(v.reference, '--reference'));
  add('labels', readText(v.labels, '--labels'));
  add('minAccuracy', v['min-accuracy']);
  add('dataset', v.dataset);
  add('run', v.run);
  add('commit', v.commit);
  if (v.url?.length) add('urls', JSON.stringify(v.url));

  const boundary = `edgefleet${Math.random().toString(16).slice(2)}`;
  const enc = new TextEncoder();
  const head = enc.encode(
    fields.map(([k, val]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${val}\r\n`).join('') +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${basename(file).replace(/"/g, '')}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  const tail = enc.encode(`\r\n--${boundary}--\r\n`);
  const size = statSync(file).size;
  const total = head.length + size + tail.length;
  let sent = 0;
  const tty = process.stderr.isTTY;
  let lastDraw = 0;
  const draw = (force = false) => {
    const now = Date.now();
    if (!force && now - lastDraw < 100) return;
    lastDraw = now;
    const frac = total === 0 ? 1 : sent / total;
    const width = 30;
    const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
    const line = `upload [${bar}] ${(frac * 100).toFixed(0).padStart(3)}% ${(sent / 1048576).toFixed(1)}/${(total / 1048576).toFixed(1)} MiB`;
    process.stderr.write(tty ? `\r${line}` : force ? `${line}\n` : '');
  };
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      const push = (chunk: Uint8Array) => {
        controller.enqueue(chunk);
        sent += chunk.length;
        draw();
      };
      push(head);
      for await (const chunk of createReadStream(file, { highWaterMark: 256 * 1024 })) push(chunk as Buffer);
      push(tail);
      draw(true);
      if (tty) process.stderr.write('\n');
      process.stderr.write('validating and signing on the hub…\n');
      controller.close();
    },
  });
  const res = await send(
    `${c.base}/api/v1/models`,
    {
      method: 'POST',
      headers: {
        ...(c.token ? { authorization: `Bearer ${c.token}` } : {}),
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': String(total),
      },
      body,
      duplex: 'half',
    } as RequestInit,
    c.base,
  );
  const r = await handle<{ model: string; version: string; release: number; sha256: string; manifest: any }>(res);
  if (v.json) return json(r);
  out(`pushed ${r.model}@${r.version} release ${r.release} sha256 ${r.sha256}\n`);
  const metrics = r.manifest?.lineage?.metrics as Record<string, number> | undefined;
  if (metrics && Object.keys(metrics).length) out(`  metrics ${Object.entries(metrics).map(([k, n]) => `${k}=${fmt(n, 4)}`).join(' ')}\n`);
}

async function modelLs(name: string | undefined, v: Values): Promise<void> {
  const c = client(v);
  const res = name ? { models: [await c.request('GET', `/models/${name}`)] } : await c.request<{ models: any[] }>('GET', '/models');
  if (v.json) return json(name ? res.models[0] : res);
  const rows = [['MODEL', 'VERSION', 'RELEASE', 'SIZE', 'SHA256', 'CREATED']];
  for (const m of res.models) for (const ver of m.versions) rows.push([m.name, ver.version, String(ver.release), String(ver.size), ver.sha256.slice(0, 12), ver.createdAt]);
  out(table(rows));
}

async function rolloutCmd(sub: string | undefined, args: string[], v: Values): Promise<void> {
  const c = client(v);
  if (sub === 'start') {
    const spec = args[0] ?? '';
    const at = spec.lastIndexOf('@');
    if (at <= 0) throw new EdgefleetError('BAD_INPUT', 'rollout start needs NAME@VERSION');
    const tags = (v.tag ?? []).map((t) => parseTags([t]));
    const targets = {
      ...(v.all ? { all: true } : {}),
      ...(tags.length ? { tags } : {}),
      ...(v.device?.length ? { devices: v.device } : {}),
    };
    if (!v.all && !tags.length && !v.device?.length) throw new EdgefleetError('BAD_INPUT', 'rollout start needs --all, --tag k=v or --device ID');
    const waves = v.waves?.split(',').map((w) => Number(w));
    if (waves?.some((w) => !Number.isFinite(w))) throw new EdgefleetError('BAD_INPUT', '--waves must be numbers like 1,10,50,100');
    const res = await c.request<{ rollout: any }>('POST', '/rollouts', {
      model: spec.slice(0, at),
      version: spec.slice(at + 1),
      targets,
      ...(waves ? { waves } : {}),
      ...(v.soak ? { soak: v.soak } : {}),
      ...(v['on-fail'] ? { onFail: v['on-fail'] } : {}),
      ...(v.shadow ? { shadow: true } : {}),
      ...(v.gate?.length ? { gates: parseGates(v.gate) } : {}),
      ...(v['device-timeout'] ? { deviceTimeout: v['device-timeout'] } : {}),
    });
    if (v.json) return json(res);
    const r = res.rollout;
    const plan = r.plan ? `waves ${r.plan.waves.join(',')} %, soak ${dur(r.plan.soakMs)}, on fail ${r.plan.onFail}` : 'all at once';
    return out(`rollout ${r.id} ${r.model}@${r.version} → ${r.devices} device(s), ${r.status} (${plan})\n`);
  }
  if (sub === 'ls' || sub === 'list') {
    const res = await c.request<{ rollouts: any[] }>('GET', '/rollouts');
    if (v.json) return json(res);
    const rows = [['ID', 'MODEL', 'VERSION', 'ROLE', 'STATUS', 'WAVE', 'DEVICES', 'CREATED']];
    for (const r of res.rollouts) {
      const wave = r.plan ? `${r.wave + 1}/${r.plan.waves.length}` : 'all';
      rows.push([r.id, r.model, r.version, r.role, r.status, wave, String(r.devices), r.createdAt]);
    }
    return out(table(rows));
  }
  const id = args[0];
  if (!id) throw new EdgefleetError('BAD_INPUT', `rollout ${sub ?? ''} needs an ID`);
  if (sub === 'show') {
    const res = await c.request<{ rollout: any }>('GET', `/rollouts/${id}`);
    if (v.json) return json(res);
    return out(rolloutText(res.rollout));
  }
  if (sub === 'pause' || sub === 'resume' || sub === 'abort' || sub === 'promote') {
    const res = await c.request<{ rollout: any }>('POST', `/rollouts/${id}/${sub}`);
    return v.json ? json(res) : out(`rollout ${id} ${res.rollout.status}\n`);
  }
  throw new EdgefleetError('BAD_INPUT', `unknown rollout command ${JSON.stringify(sub ?? '')}`);
}

/** `--gate maxP95RegressionPct=30` → { maxP95RegressionPct: 30 }; requireVerdict takes a comma list. */
function parseGates(list: readonly string[]): Record<string, number | string[]> {
  const gates: Record<string, number | string[]> = {};
  for (const g of list) {
    const i = g.indexOf('=');
    if (i <= 0) throw new EdgefleetError('BAD_INPUT', `--gate must be NAME=VALUE, got ${JSON.stringify(g)}`);
    const name = g.slice(0, i);
    const value = g.slice(i + 1);
    if (name === 'requireVerdict') gates[name] = value.split(',').filter(Boolean);
    else {
      const n = Number(value.replace(/%$/, ''));
      if (value === '' || !Number.isFinite(n)) throw new EdgefleetError('BAD_INPUT', `--gate ${name}: ${JSON.stringify(value)} is not a number`);
      gates[name] = value.endsWith('%') && !name.endsWith('Pct') ? n / 100 : n;
    }
  }
  return gates;
}

function dur(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** A gate's value and limit in its unit (rates as %, latency regression in %, counts as they are). */
function gateValue(name: string, x: number | null): string {
  if (x === null || x === undefined) return '-';
  if (/rate|agreement|drop|coverage/.test(name)) return `${(x * 100).toFixed(2)}%`;
  if (name === 'p95-latency-regression') return `${x >= 0 ? '+' : ''}${x.toFixed(1)}%`;
  return Number.isInteger(x) ? String(x) : x.toFixed(3);
}

function gateTable(gates: any[]): string {
  const rows = [['GATE', 'VALUE', 'LIMIT', 'VERDICT', 'DETAIL']];
  for (const g of gates) {
    const limit = g.name === 'p95-latency-regression' ? `+${g.limit}%` : g.name === 'min-reporting-devices' || g.name === 'shadow-agreement' ? `≥ ${gateValue(g.name, g.limit)}` : `≤ ${gateValue(g.name, g.limit)}`;
    rows.push([g.name, gateValue(g.name, g.value), limit, g.pass === true ? 'pass' : g.pass === false ? 'FAIL' : 'no verdict', g.detail ?? '']);
  }
  return table(rows);
}

/** `rollout show`: waves, devices per state, every gate's value against its limit, shadow comparison. */
function rolloutText(r: any): string {
  let s = `rollout ${r.id}\n  model    ${r.model}@${r.version} (${r.role})\n  status   ${r.status}${r.pausedReason ? ` — ${r.pausedReason}` : ''}${r.supersededBy ? ` by ${r.supersededBy}` : ''}\n`;
  s += `  targets  ${JSON.stringify(r.targets)} (${r.devices} devices)\n  created  ${r.createdAt}\n`;
  if (!r.plan) return s + '  plan     all at once\n';
  s += `  plan     waves ${r.plan.waves.join(', ')} %, soak ${dur(r.plan.soakMs)}, on fail ${r.plan.onFail}${r.plan.shadow ? ', shadow' : ''}, device timeout ${dur(r.plan.deviceTimeoutMs)}\n\n`;
  const rows = [['WAVE', 'PERCENT', 'OUTCOME', 'DEVICES', 'CONVERGED', 'PENDING', 'FAILED', 'SKIPPED', 'LEFT', 'STARTED']];
  for (const w of r.waves) {
    const c = w.counts;
    rows.push([String(w.index + 1), `${w.percent}%`, w.outcome, String(w.devices), String(c.converged), String(c.pending), String(c.failed), String(c.skipped), String(c.left), w.startedAt]);
  }
  s += r.waves.length ? table(rows) : '  no wave started yet\n';
  const current = r.waves[r.waves.length - 1];
  if (current) {
    for (const k of ['failed', 'pending', 'skipped'] as const) {
      const ids: string[] = current.byOutcome?.[k] ?? [];
      if (ids.length) s += `  wave ${current.index + 1} ${k}: ${ids.slice(0, 20).join(', ')}${ids.length > 20 ? ` … (+${ids.length - 20})` : ''}\n`;
    }
  }
  if (r.gates?.length) s += `\ngates (latest judged wave)\n${gateTable(r.gates)}`;
  if (r.shadow) {
    const sh = r.shadow;
    s += `\nshadow vs active\n  agreement  ${sh.agreement === null ? '-' : `${(sh.agreement * 100).toFixed(2)}%`} (${sh.agreed} of ${sh.compared} compared)\n`;
    s += `  latency    shadow p50 ${fmt(sh.latencyMs.shadow.p50)} ms, p95 ${fmt(sh.latencyMs.shadow.p95)} ms; active p50 ${fmt(sh.latencyMs.active.p50)} ms, p95 ${fmt(sh.latencyMs.active.p95)} ms\n`;
  }
  return s;
}

/** `fleet health NAME@VERSION`: the health API (design §6) as text, per device, tag group and time range. */
async function fleetHealthCmd(spec: string | undefined, v: Values): Promise<void> {
  const at = spec?.lastIndexOf('@') ?? -1;
  if (!spec || at <= 0) throw new EdgefleetError('BAD_INPUT', 'usage: edgefleet fleet health NAME@VERSION [--tag k=v]... [--device ID] [--since 1h]');
  const q = new URLSearchParams({ model: spec.slice(0, at), version: spec.slice(at + 1) });
  if (v.since) {
    const m = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(v.since);
    if (!m) throw new EdgefleetError('BAD_INPUT', `--since must look like 30m, 1h or 7d, got ${JSON.stringify(v.since)}`);
    const ms = Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's'];
    q.set('from', String(Math.floor(Date.now() - ms)));
  }
  for (const t of v.tag ?? []) q.append('tag', t);
  if (v.device?.length) q.set('device', v.device[0]!);
  if (v.shadow) q.set('role', 'shadow');
  const h = await client(v).request<any>('GET', `/health?${q}`);
  if (v.json) return json(h);
  const t = h.totals;
  let s = `${h.model}@${h.version}${h.device ? ` on ${h.device}` : ''}${v.tag?.length ? ` [${v.tag.join(', ')}]` : ''}${v.shadow ? ' (shadow)' : ''}, ${new Date(h.from).toISOString()} → ${new Date(h.to).toISOString()}\n`;
  s += `  devices     ${t.devices}\n  inferences  ${t.inferences}, errors ${t.errors} (${t.errorRate === null ? '-' : `${(t.errorRate * 100).toFixed(2)}%`})\n`;
  s += `  latency     p50 ${fmt(t.latencyMs.p50)} ms, p95 ${fmt(t.latencyMs.p95)} ms, p99 ${fmt(t.latencyMs.p99)} ms\n`;
  const a = h.accuracy;
  s += `  accuracy    ${a.p === null ? '-' : `${(a.p * 100).toFixed(2)}% [${(a.low * 100).toFixed(2)}%, ${(a.high * 100).toFixed(2)}%]`} on ${a.labelled} labels (coverage ${a.coverage === null ? '-' : `${(a.coverage * 100).toFixed(1)}%`})\n`;
  if (h.shadow) s += `  shadow      ${(h.shadow.rate * 100).toFixed(2)}% agreement (${h.shadow.agreed} of ${h.shadow.compared})\n`;
  if (h.drift.length) {
    s += '\ndrift against the reference\n';
    s += table([['FEATURE', 'PSI', 'CRITICAL', 'JS', 'N', 'VERDICT'], ...h.drift.map((d: any) => [d.feature, d.psi.toFixed(3), d.critical === null ? '-' : d.critical.toFixed(3), d.js.toFixed(3), String(d.n), d.verdict])]);
  }
  const mix = h.predictionMix;
  if (mix.kind && mix.observed) {
    s += '\nprediction mix\n';
    s += table([['CLASS', 'OBSERVED', 'REFERENCE'], ...mix.labels.map((l: string, i: number) => [l, `${((mix.observed[i] ?? 0) * 100).toFixed(1)}%`, mix.reference ? `${((mix.reference[i] ?? 0) * 100).toFixed(1)}%` : '-'])]);
  }
  out(s);
}

async function fleetStatusCmd(v: Values): Promise<void> {
  const res = await client(v).request<any>('GET', `/fleet/status${v.minutes ? `?minutes=${encodeURIComponent(v.minutes)}` : ''}`);
  if (v.json) return json(res);
  out(`devices  ${res.devices.total} total, ${res.devices.online} online, ${res.devices.offline} offline\n`);
  out(`rollouts ${res.rollouts.total} total, ${res.rollouts.active} active\n`);
  for (const r of res.activeRollouts ?? []) {
    out(`  ${r.id} ${r.model}@${r.version} (${r.role}) ${r.status}, wave ${r.wave + 1}/${r.waves.length}${r.percent !== null ? ` (${r.percent}%)` : ''}${r.pausedReason ? ` — ${r.pausedReason}` : ''}\n`);
  }
  out('\n');
  if (res.versions.length) {
    out('versions in use\n');
    out(table([['MODEL', 'VERSION', 'DEVICES'], ...res.versions.map((x: any) => [x.model, x.version, String(x.devices)])]));
    out('\n');
  }
  out(`health (last ${res.sinceMinutes} min)\n`);
  const rows = [['MODEL', 'VERSION', 'ROLE', 'INFERENCES', 'ERROR RATE', 'P50 MS', 'P95 MS', 'P99 MS', 'DEVICES']];
  for (const h of res.health) {
    rows.push([h.model, h.version, h.role, String(h.inferences), h.errorRate === null ? '-' : `${(h.errorRate * 100).toFixed(2)}%`, fmt(h.latencyMs.p50), fmt(h.latencyMs.p95), fmt(h.latencyMs.p99), String(h.reportingDevices)]);
  }
  out(table(rows));
}

async function tokenCreate(v: Values): Promise<void> {
  if (!v.role) throw new EdgefleetError('BAD_INPUT', 'token create needs --role viewer|operator|admin');
  const res = await client(v).request<{ id: string; token: string; role: string }>('POST', '/tokens', { role: v.role, ...(v.name ? { name: v.name } : {}) });
  if (v.json) return json(res);
  out(`${res.token}\n`);
  process.stderr.write(`token ${res.id} (${res.role}); shown once, stored only hashed\n`);
}

async function webhookCmd(sub: string | undefined, args: string[], v: Values): Promise<void> {
  const c = client(v);
  if (sub === 'ls' || sub === 'list' || sub === undefined) {
    const res = await c.request<{ webhooks: Array<{ id: string; url: string; source: string; createdBy: string | null }> }>('GET', '/webhooks');
    if (v.json) return json(res);
    return out(table([['ID', 'URL', 'SOURCE'], ...res.webhooks.map((w) => [w.id, w.url, w.source])]));
  }
  if (sub === 'add') {
    if (!args[0]) throw new EdgefleetError('BAD_INPUT', 'webhook add needs a URL');
    const res = await c.request<{ webhook: { id: string; url: string } }>('POST', '/webhooks', { url: args[0] });
    return v.json ? json(res) : out(`webhook ${res.webhook.id} added: ${res.webhook.url}\n`);
  }
  if (sub === 'rm' || sub === 'remove') {
    if (!args[0]) throw new EdgefleetError('BAD_INPUT', 'webhook rm needs an ID');
    await c.request('DELETE', `/webhooks/${encodeURIComponent(args[0])}`);
    return out(`webhook ${args[0]} removed\n`);
  }
  if (sub === 'deliveries') {
    const q = new URLSearchParams();
    if (v.event) q.set('event', v.event);
    if (v.limit) q.set('limit', v.limit);
    const res = await c.request<{ deliveries: Array<{ startedAt: string; event: string; url: string; attempt: number; status: number | null; error: string | null }>; stats: Record<string, number> }>(
      'GET',
      `/webhooks/deliveries${q.size ? `?${q}` : ''}`,
    );
    if (v.json) return json(res);
    out(table([['TIME', 'EVENT', 'URL', 'ATTEMPT', 'STATUS', 'ERROR'], ...res.deliveries.map((d) => [d.startedAt, d.event, d.url, String(d.attempt), d.status === null ? '-' : String(d.status), d.error ?? ''])]));
    return out(`delivered ${res.stats.delivered ?? 0}, failed ${res.stats.failed ?? 0}, dropped (queue full) ${res.stats.dropped ?? 0} since the hub started\n`);
  }
  throw new EdgefleetError('BAD_INPUT', `unknown webhook command ${JSON.stringify(sub)} (ls, add, rm, deliveries)`);
}

async function auditVerify(v: Values): Promise<void> {
  const res = await client(v).request<{ ok: boolean; entries: number; brokenAt?: number; reason?: string; message?: string }>('GET', '/audit/verify');
  if (v.json) json(res);
  else if (res.ok) out(`audit log intact: ${res.entries} entries\n`);
  else out(`audit log BROKEN at row ${res.brokenAt}${res.reason ? ` (${res.reason})` : ''}: ${res.message ?? 'hash chain does not hold'}\n${res.entries} entries before it verify\n`);
  if (!res.ok) process.exitCode = 1;
}

export async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    process.stderr.write(`error BAD_INPUT: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  const { values: v, positionals: p } = parsed;
  const [group, sub, ...rest] = p;
  if (v.help || !group || group === 'help') {
    out(HELP);
    return 0;
  }
  try {
    switch (group) {
      case 'hub':
        if (sub !== 'start') throw new EdgefleetError('BAD_INPUT', 'usage: edgefleet hub start [options]');
        await hubStart(v);
        // everything is closed; do not wait on stray handles (keep-alive sockets of clients)
        process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
        break;
      case 'keys':
        if (sub !== 'init') throw new EdgefleetError('BAD_INPUT', 'usage: edgefleet keys init --out DIR');
        await keysInit(v);
        break;
      case 'device':
        await deviceCmd(sub, rest, v);
        break;
      case 'devices':
        if (sub !== undefined && sub !== 'ls') throw new EdgefleetError('BAD_INPUT', 'usage: edgefleet devices ls');
        await devicesLs(v);
        break;
      case 'model':
        if (sub === 'push') await modelPush(rest[0], v);
        else if (sub === 'ls' || sub === 'list') await modelLs(rest[0], v);
        else throw new EdgefleetError('BAD_INPUT', 'usage: edgefleet model push FILE … | model ls [NAME]');
        break;
      case 'rollout':
        await rolloutCmd(sub, rest, v);
        break;
      case 'fleet':
        if (sub === 'health') await fleetHealthCmd(rest[0], v);
        else if (sub === 'status') await fleetStatusCmd(v);
        else throw new EdgefleetError('BAD_INPUT', 'usage: edgefleet fleet status | fleet health NAME@VERSION');
        break;
      case 'token':
        if (sub !== 'create') throw new EdgefleetError('BAD_INPUT', 'usage: edgefleet token create --role R');
        await tokenCreate(v);
        break;
      case 'webhook':
      case 'webhooks':
        await webhookCmd(sub, rest, v);
        break;
      case 'audit':
        if (sub !== 'verify') throw new EdgefleetError('BAD_INPUT', 'usage: edgefleet audit verify');
        await auditVerify(v);
        break;
      default:
        throw new EdgefleetError('BAD_INPUT', `unknown command ${JSON.stringify(group)}; see edgefleet --help`);
    }
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    const e = err instanceof EdgefleetError ? err : new EdgefleetError('INTERNAL', err instanceof Error ? err.message : String(err));
    process.stderr.write(`error ${e.code}: ${e.message.split('\n')[0]}\n`);
    return 1;
  }
}

// Run when executed as the bin (hub/bin/edgefleet.js imports this module).
const code = await main(process.argv.slice(2));
if (code !== 0) process.exitCode = code;
