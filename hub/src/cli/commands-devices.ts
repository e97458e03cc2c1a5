// Device commands (design §2): add (with its agent config), enrol (a one-time link), tag, rm, show, command, ls.

import { writeFileSync } from 'node:fs';
import { parseDuration } from '@edgefleet/protocol';
import type { CommandRequest, CommandSent, DeviceAdded, DeviceDetail, DeviceList, DeviceRequest, DeviceTagsRequest, DeviceUpdated, EnrolmentCreated, EnrolmentRequest, Removed } from './api.js';
import { usageError, type CommandSpec, type Values } from './args.js';
import { createClient } from './client.js';
import { ago, json, out, table } from './format.js';

/** `--tag k=v` values as a map; BAD_INPUT on anything else. */
export function parseTags(list: readonly string[] | undefined): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const t of list ?? []) {
    const i = t.indexOf('=');
    if (i <= 0) throw usageError(`--tag must be k=v, got ${JSON.stringify(t)}`);
    tags[t.slice(0, i)] = t.slice(i + 1);
  }
  return tags;
}

const id = (pos: string[]) => encodeURIComponent(pos[0]!);

/** The actions the CLI sends to POST /devices/:id/commands; one the API's schema drops fails to compile. */
const ACTIONS = ['rollback', 'flush-telemetry', 'resync'] as const satisfies ReadonlyArray<CommandRequest['action']>;

/** `devices ls` filters as the API's query (`GET /devices?limit=…`, http/device-query.ts); null when none is given. */
function deviceQuery(v: Values): URLSearchParams | null {
  const q = new URLSearchParams();
  for (const [k, val] of Object.entries(parseTags(v.tag))) q.append('tag', `${k}=${val}`);
  if (v.model) q.set('model', v.model);
  if (v.version) q.set('version', v.version);
  if (v.state) q.set('state', v.state);
  if (v.status) q.set('online', String(v.status === 'online'));
  if (v.silent) q.set('silentMinutes', String(parseDuration(v.silent, { unitRequired: true })! / 60_000));
  return [...q.keys()].length ? q : null;
}

/** Every device the filter matches, page by page (the API answers at most 500 per page). */
async function filteredDevices(v: Values, q: URLSearchParams): Promise<DeviceList & { total: number }> {
  const client = createClient(v);
  const limit = v.limit ? Number(v.limit) : Infinity;
  const devices: DeviceList['devices'] = [];
  let total = 0;
  do {
    q.set('limit', String(Math.min(500, limit - devices.length)));
    q.set('offset', String(devices.length));
    const page = await client.request<DeviceList & { total: number }>('GET', `/devices?${q}`);
    devices.push(...page.devices);
    total = page.total;
    if (page.devices.length === 0) break;
  } while (devices.length < Math.min(total, limit));
  return { devices, total };
}

async function devicesLs(v: Values): Promise<void> {
  const q = deviceQuery(v);
  const res = q || v.limit ? await filteredDevices(v, q ?? new URLSearchParams()) : await createClient(v).request<DeviceList>('GET', '/devices');
  if (v.json) return json(res);
  const rows = [['ID', 'STATUS', 'LAST SEEN', 'SEQ', 'MODELS', 'TAGS']];
  for (const d of res.devices) {
    const models = Object.entries(d.reported?.models ?? {})
      .map(([m, s]) => `${m}@${s.active?.version ?? '-'}(${s.state}${s.error ? ` ${s.error.code}` : ''})`)
      .join(' ');
    const tags = Object.entries(d.tags)
      .map(([k, val]) => `${k}=${val}`)
      .join(',');
    rows.push([d.id, d.status, ago(d.lastSeen), String(d.desiredSequence ?? '-'), models || '-', tags || '-']);
  }
  out(table(rows));
  if ('total' in res && typeof res.total === 'number' && res.total > res.devices.length) out(`(${res.devices.length} of ${res.total} matching devices; --limit N shows more)\n`);
}

/** `device show` as text: who it is, what it runs, what it said last. */
function deviceText(res: DeviceDetail): string {
  const d = res.device;
  const tags = Object.entries(d.tags).map(([k, val]) => `${k}=${val}`).join(', ') || '-';
  let s = `device ${d.id}\n  status   ${d.status}, last seen ${ago(d.lastSeen)}\n  tags     ${tags}\n  desired  sequence ${d.desiredSequence ?? '-'}\n`;
  const models = Object.entries(d.reported?.models ?? {});
  if (models.length) {
    const rows = [['MODEL', 'STATE', 'ACTIVE', 'SHADOW', 'ERROR']];
    for (const [m, st] of models) rows.push([m, st.state, st.active?.version ?? '-', st.shadow?.version ?? '-', st.error ? `${st.error.code}: ${st.error.message}` : '']);
    s += `\n${table(rows)}`;
  } else s += '  models   none reported\n';
  if (res.events.length) {
    const rows = [['WHEN', 'TYPE', 'MODEL', 'MESSAGE']];
    for (const e of res.events.slice(0, 20)) rows.push([ago(e.at), e.type, e.model ? `${e.model}@${e.version ?? '-'}` : '-', e.message]);
    s += `\nrecent events\n${table(rows)}`;
  }
  return s;
}

export const DEVICE_COMMANDS: CommandSpec[] = [
  {
    words: ['device', 'add'],
    summary: 'Register a device; prints its token once, or writes its agent config with --out.',
    positionals: [{ name: 'ID' }],
    options: ['tag', 'out'],
    values: { out: 'agent.json' },
    client: true,
    check: (v) => void parseTags(v.tag),
    run: async (pos, v) => {
      const body: DeviceRequest = { id: pos[0]!, tags: parseTags(v.tag) };
      const res = await createClient(v).request<DeviceAdded>('POST', '/devices', body);
      if (v.out) {
        writeFileSync(v.out, JSON.stringify(res.agentConfig, null, 2) + '\n', { mode: 0o600 });
        process.stderr.write(`agent config written to ${v.out} (contains the device token)\n`);
      }
      if (v.json) return json(res);
      out(`device ${res.device.id} added\n`);
      if (!v.out) out(`token ${res.token}\n(shown once; pass --out agent.json to write the agent config)\n`);
    },
  },
  {
    words: ['device', 'enrol'],
    aliases: [['device', 'enroll']],
    summary: 'A one-time link that enrols a browser device (open it on the device); redeeming it replaces the device’s token.',
    positionals: [{ name: 'ID' }],
    options: ['ttl'],
    client: true,
    notes: 'The code is in the link’s #fragment: browsers never send it, and the page drops it from its history.',
    check: (v) => {
      if (v.ttl !== undefined && parseDuration(v.ttl, { unitRequired: true }) === null) throw usageError(`--ttl must be a duration like 15m or 1h, got ${JSON.stringify(v.ttl)}`);
    },
    run: async (pos, v) => {
      const body: EnrolmentRequest = v.ttl ? { ttl: v.ttl } : {};
      const res = await createClient(v).request<EnrolmentCreated>('POST', `/devices/${id(pos)}/enrolment`, body);
      if (v.json) return json(res);
      out(`${res.url}\n(one use, valid until ${res.expiresAt}; open it on the device ${res.deviceId})\n`);
    },
  },
  {
    words: ['device', 'tag'],
    summary: 'Replace a device’s tags with the --tag values given (--clear removes them all).',
    positionals: [{ name: 'ID' }],
    options: ['tag', 'clear'],
    client: true,
    check: (v) => {
      const tags = parseTags(v.tag);
      if (v.clear && Object.keys(tags).length) throw usageError('device tag: --clear and --tag exclude each other');
      if (!v.clear && !Object.keys(tags).length) throw usageError('device tag needs --tag k=v (repeatable), or --clear to remove every tag');
    },
    run: async (pos, v) => {
      const body: DeviceTagsRequest = { tags: parseTags(v.tag) };
      const res = await createClient(v).request<DeviceUpdated>('PATCH', `/devices/${id(pos)}`, body);
      return v.json ? json(res) : out(`device ${pos[0]} tags ${JSON.stringify(res.device.tags)}\n`);
    },
  },
  {
    words: ['device', 'rm'],
    aliases: [['device', 'remove']],
    summary: 'Remove a device; its credentials stop working at once.',
    positionals: [{ name: 'ID' }],
    client: true,
    run: async (pos, v) => {
      const res = await createClient(v).request<Removed>('DELETE', `/devices/${id(pos)}`);
      return v.json ? json(res) : out(`device ${pos[0]} removed; its credentials no longer work\n`);
    },
  },
  {
    words: ['device', 'show'],
    summary: 'A device: status, tags, the models it reports, recent events.',
    positionals: [{ name: 'ID' }],
    client: true,
    run: async (pos, v) => {
      const res = await createClient(v).request<DeviceDetail>('GET', `/devices/${id(pos)}`);
      return v.json ? json(res) : out(deviceText(res));
    },
  },
  {
    words: ['device', 'command'],
    summary: 'Send a signed command to a device.',
    positionals: [{ name: 'ID' }, { name: 'ACTION', choices: ACTIONS }],
    options: ['model', 'name'],
    client: true,
    check: (v) => {
      if (v.model && v.name && v.model !== v.name) throw usageError('device command: --model and --name name the model twice');
    },
    run: async (pos, v) => {
      const model = v.model ?? v.name;
      const body: CommandRequest = { action: ACTIONS.find((a) => a === pos[1])!, ...(model ? { model } : {}) };
      const res = await createClient(v).request<CommandSent>('POST', `/devices/${id(pos)}/commands`, body);
      return v.json ? json(res) : out(`sent ${pos[1]} to ${pos[0]} (command sequence ${res.command.sequence})\n`);
    },
  },
  {
    words: ['device', 'batch'],
    summary: 'Run a model over a file on the device (in its batch directory); the result arrives as a batch-finished event.',
    positionals: [{ name: 'ID' }],
    options: ['model', 'file'],
    client: true,
    check: (v) => {
      if (!v.model || !v.file) throw usageError('device batch: --model NAME and --file NAME are required');
    },
    run: async (pos, v) => {
      const body: CommandRequest = { action: 'batch', model: v.model!, path: v.file! };
      const res = await createClient(v).request<CommandSent>('POST', `/devices/${id(pos)}/commands`, body);
      return v.json ? json(res) : out(`sent batch ${v.model} over ${v.file} to ${pos[0]} (command sequence ${res.command.sequence}); see \`edgefleet device show ${pos[0]}\` for its result\n`);
    },
  },
  {
    words: ['devices', 'ls'],
    aliases: [['devices'], ['devices', 'list'], ['device', 'ls'], ['device', 'list']],
    summary: 'List devices: status, last seen, desired sequence, models, tags; filtered by tag, model, version, state, status.',
    options: ['tag', 'model', 'version', 'state', 'status', 'silent', 'limit'],
    values: { tag: 'k=v', version: 'V' },
    choices: { status: ['online', 'offline'] },
    client: true,
    check: (v) => {
      parseTags(v.tag);
      if (v.silent !== undefined && parseDuration(v.silent, { unitRequired: true }) === null) throw usageError(`--silent must be a duration like 30m or 2h, got ${JSON.stringify(v.silent)}`);
      if (v.limit !== undefined && !/^[1-9]\d{0,6}$/.test(v.limit)) throw usageError(`--limit must be a positive whole number, got ${JSON.stringify(v.limit)}`);
    },
    run: (_pos, v) => devicesLs(v),
  },
];
