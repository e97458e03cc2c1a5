// Capture policies (design §2 `edgefleet data capture`, §4 capture): set, show and remove the capture rule of
// one model version at run time. The hub validates and audits it and re-issues the signed desired state of
// every device assigned that version; `hub start --capture` stays the default for versions without one.

import { readFileSync } from 'node:fs';
import type { CapturePolicy, CapturePolicyChanged, CapturePolicyInput, CapturePolicyList } from './api.js';
import { usageError, type CommandSpec, type Values } from './args.js';
import { createClient } from './client.js';
import { splitSpec } from './commands-data.js';
import { json, out, table } from './format.js';

const USAGE = 'usage: edgefleet data capture set NAME@VERSION [--file POLICY.json] [--rate R] [--trigger T]... [--features a,b] [--hash a,b] [--redact a,b] [--window-bytes N] [--disk-bytes N]';
const TRIGGERS = ['low-confidence', 'tail', 'shadow-disagreement', 'label-contradiction'] as const;

const list = (text: string): string[] => text.split(',').map((s) => s.trim()).filter(Boolean);
function number(flag: string, text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n)) throw usageError(`--${flag} must be a number, got ${JSON.stringify(text)}`);
  return n;
}

/** A capture rule from a JSON file (`data capture set --file`, `rollout start --capture`); the hub checks its fields. */
export function policyFile(flag: string, file: string): CapturePolicyInput {
  try {
    const raw = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('want one capture rule, a JSON object');
    return raw as CapturePolicyInput;
  } catch (err) {
    throw usageError(`--${flag} ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** The PUT body from `--file` and the flags (a flag overrides the file's field); the hub checks the rest. */
export function policyBody(v: Values): CapturePolicyInput {
  const body: CapturePolicyInput = v.file ? policyFile('file', v.file) : {};
  const triggers: NonNullable<CapturePolicyInput['triggers']> = { ...body.triggers };
  for (const t of v.trigger ?? []) {
    const [name, value] = t.split(/=(.*)/s) as [string, string | undefined];
    if (name === 'low-confidence') triggers.lowConfidence = number('trigger low-confidence', value ?? '');
    else if (name === 'tail') triggers.tail = list(value ?? '');
    else if (name === 'shadow-disagreement') triggers.shadowDisagreement = value === undefined || value === 'true';
    else if (name === 'label-contradiction') triggers.labelContradiction = value === undefined || value === 'true';
    else throw usageError(`--trigger ${JSON.stringify(t)}: one of ${TRIGGERS.join(', ')}`);
  }
  if (v.trigger?.length) body.triggers = triggers;
  if (v.rate !== undefined) body.rate = number('rate', v.rate);
  if (v['window-bytes'] !== undefined) body.windowBytes = number('window-bytes', v['window-bytes']);
  if (v['disk-bytes'] !== undefined) body.diskBytes = number('disk-bytes', v['disk-bytes']);
  if (v.features !== undefined) body.features = list(v.features);
  if (v.hash !== undefined) body.hash = list(v.hash);
  if (v.redact !== undefined) body.redact = list(v.redact);
  return body;
}

const path = (spec: string | undefined) => {
  const { model, version } = splitSpec(spec, USAGE);
  return `/capture-policies/${encodeURIComponent(model)}/${encodeURIComponent(version)}`;
};

function triggersText(p: CapturePolicy): string {
  const t = p.rule.triggers;
  const parts = [
    t.lowConfidence !== undefined ? `low-confidence<${t.lowConfidence}` : '',
    t.tail?.length ? `tail(${t.tail.join(',')})` : '',
    t.shadowDisagreement ? 'shadow-disagreement' : '',
    t.labelContradiction ? 'label-contradiction' : '',
  ].filter(Boolean);
  return parts.join(' ') || '-';
}

const rows = (ps: CapturePolicy[]): string =>
  table([
    ['MODEL', 'VERSION', 'RATE', 'TRIGGERS', 'WINDOW', 'DISK', 'REDACT', 'HASH', 'FEATURES', 'BY'],
    ...ps.map((p) => [p.model, p.version, String(p.rule.rate), triggersText(p), String(p.rule.windowBytes), String(p.rule.diskBytes), p.rule.redact.join(',') || '-', p.rule.hash.join(',') || '-', p.rule.features?.join(',') ?? 'all', p.actor]),
  ]);

function changed(what: string, res: CapturePolicyChanged): void {
  out(`${what}; ${res.devices} device${res.devices === 1 ? '' : 's'} sent a new desired state\n`);
  if (res.policy) out(rows([res.policy]));
}

export const CAPTURE_COMMANDS: readonly CommandSpec[] = [
  {
    words: ['data', 'capture', 'ls'],
    aliases: [['data', 'capture']],
    summary: 'Capture policies set per model version (those without one follow the hub’s --capture defaults).',
    client: true,
    run: async (_pos, v) => {
      const res = await createClient(v).request<CapturePolicyList>('GET', '/capture-policies');
      if (v.json) return json(res);
      out(res.policies.length ? rows(res.policies) : 'no capture policies (the hub’s --capture defaults apply)\n');
    },
  },
  {
    words: ['data', 'capture', 'show'],
    summary: 'The capture policy of one model version.',
    positionals: [{ name: 'NAME@VERSION' }],
    client: true,
    check: (_v, pos) => void path(pos[0]),
    run: async (pos, v) => {
      const res = await createClient(v).request<{ policy: CapturePolicy }>('GET', path(pos[0]));
      if (v.json) return json(res);
      out(rows([res.policy]));
    },
  },
  {
    words: ['data', 'capture', 'set'],
    summary: 'Set the capture policy of a model version; its devices get it in a new signed desired state, no restart.',
    positionals: [{ name: 'NAME@VERSION' }],
    options: ['file', 'rate', 'trigger', 'features', 'hash', 'redact', 'window-bytes', 'disk-bytes'],
    values: { file: 'POLICY.json' },
    notes: '  --file holds a capture rule ({ rate, triggers, windowBytes, diskBytes, features, hash, redact }); flags override its fields.',
    client: true,
    check: (v, pos) => {
      path(pos[0]);
      policyBody(v);
    },
    run: async (pos, v) => {
      const res = await createClient(v).request<CapturePolicyChanged>('PUT', path(pos[0]), policyBody(v));
      if (v.json) return json(res);
      changed(`capture policy of ${pos[0]} set`, res);
    },
  },
  {
    words: ['data', 'capture', 'rm'],
    aliases: [['data', 'capture', 'remove'], ['data', 'capture', 'delete']],
    summary: 'Remove the capture policy of a model version; its devices fall back to the hub’s defaults.',
    positionals: [{ name: 'NAME@VERSION' }],
    client: true,
    check: (_v, pos) => void path(pos[0]),
    run: async (pos, v) => {
      const res = await createClient(v).request<CapturePolicyChanged>('DELETE', path(pos[0]));
      if (v.json) return json(res);
      changed(`capture policy of ${pos[0]} removed`, res);
    },
  },
];
