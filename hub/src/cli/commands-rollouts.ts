// Rollout commands (design §7): start gated waves, ls, show, pause, resume, abort, promote.

import { parseDuration } from '@edgefleet/protocol';
import type { CapturePolicyInput, RolloutAnswer, RolloutList, RolloutRequest } from './api.js';
import { usageError, type CommandSpec, type Values } from './args.js';
import { createClient } from './client.js';
import { policyFile } from './commands-capture.js';
import { parseTags } from './commands-devices.js';
import { dur, evidencePlan, json, out, rolloutText, table } from './format.js';

/** Where a watched rollout stops: it will not move again without an operator. */
const WATCH_ENDS = new Set(['completed', 'paused', 'rolled-back', 'aborted', 'superseded']);

async function rolloutShow(id: string, v: Values): Promise<void> {
  const client = createClient(v);
  const every = v.interval === undefined ? 2000 : parseDuration(v.interval, { unitRequired: true })!;
  for (let first = true; ; first = false) {
    const res = await client.request<RolloutAnswer>('GET', `/rollouts/${encodeURIComponent(id)}`);
    if (v.json) json(res);
    else {
      // a terminal redraws in place; a pipe or log gets one report after another
      if (v.watch && process.stdout.isTTY) out('\x1b[2J\x1b[H');
      else if (!first) out('\n');
      out(rolloutText(res.rollout));
    }
    if (!v.watch) return;
    if (WATCH_ENDS.has(res.rollout.status)) {
      if (res.rollout.status !== 'completed') process.exitCode = 1;
      return;
    }
    await new Promise((r) => setTimeout(r, every));
  }
}

/** `--gate maxP95RegressionPct=30` → { maxP95RegressionPct: 30 }; requireVerdict takes a comma list. */
function parseGates(list: readonly string[]): NonNullable<RolloutRequest['gates']> {
  const gates: NonNullable<RolloutRequest['gates']> = {};
  for (const g of list) {
    const i = g.indexOf('=');
    if (i <= 0) throw usageError(`--gate must be NAME=VALUE, got ${JSON.stringify(g)}`);
    const name = g.slice(0, i);
    const value = g.slice(i + 1);
    if (name === 'requireVerdict') gates[name] = value.split(',').filter(Boolean);
    else {
      const n = Number(value.replace(/%$/, ''));
      if (value === '' || !Number.isFinite(n)) throw usageError(`--gate ${name}: ${JSON.stringify(value)} is not a number`);
      gates[name] = value.endsWith('%') && !name.endsWith('Pct') ? n / 100 : n;
    }
  }
  return gates;
}

/** What a failed gate does (RolloutRequest.onFail); one the API drops fails to compile. */
const ON_FAIL = ['pause', 'rollback'] as const satisfies ReadonlyArray<NonNullable<RolloutRequest['onFail']>>;
/** What a wave does when its gates still lack evidence at the max soak (RolloutRequest.onNoEvidence). */
const ON_NO_EVIDENCE = ['pause', 'pass', 'fail'] as const satisfies ReadonlyArray<NonNullable<RolloutRequest['onNoEvidence']>>;

function parseSpec(spec: string): { model: string; version: string } {
  const at = spec.lastIndexOf('@');
  if (at <= 0 || at === spec.length - 1) throw usageError(`expected NAME@VERSION, got ${JSON.stringify(spec)}`);
  return { model: spec.slice(0, at), version: spec.slice(at + 1) };
}

function parseWaves(v: Values): number[] | undefined {
  const waves = v.waves?.split(',').map((w) => Number(w));
  if (waves?.some((w) => !Number.isFinite(w))) throw usageError('--waves must be numbers like 1,10,50,100');
  return waves;
}

async function rolloutStart(spec: string, v: Values): Promise<void> {
  const { model, version } = parseSpec(spec);
  const tags = (v.tag ?? []).map((t) => parseTags([t]));
  const targets: RolloutRequest['targets'] = {
    ...(v.all ? { all: true } : {}),
    ...(tags.length ? { tags } : {}),
    ...(v.device?.length ? { devices: v.device } : {}),
  };
  const waves = parseWaves(v);
  const onFail = ON_FAIL.find((o) => o === v['on-fail']);
  const onNoEvidence = ON_NO_EVIDENCE.find((o) => o === v['on-no-evidence']);
  // design §4 capture: the rollout's own policy, sent as written (the hub fills in its defaults)
  const body: Omit<RolloutRequest, 'capture'> & { capture?: CapturePolicyInput } = {
    model,
    version,
    targets,
    ...(waves ? { waves } : {}),
    ...(v.soak ? { soak: v.soak } : {}),
    ...(onFail ? { onFail } : {}),
    ...(v['max-soak'] ? { maxSoak: v['max-soak'] } : {}),
    ...(onNoEvidence ? { onNoEvidence } : {}),
    ...(v.shadow ? { shadow: true } : {}),
    ...(v.gate?.length ? { gates: parseGates(v.gate) } : {}),
    ...(v['device-timeout'] ? { deviceTimeout: v['device-timeout'] } : {}),
    ...(v.capture ? { capture: policyFile('capture', v.capture) } : {}),
  };
  const res = await createClient(v).request<RolloutAnswer>('POST', '/rollouts', body);
  if (v.json) return json(res);
  const r = res.rollout;
  const plan = r.plan ? `waves ${r.plan.waves.join(',')} %, soak ${dur(r.plan.soakMs)}, on fail ${r.plan.onFail}, ${evidencePlan(r.plan)}` : 'all at once';
  out(`rollout ${r.id} ${r.model}@${r.version} → ${r.devices} device(s), ${r.status} (${plan})\n`);
}

async function rolloutLs(v: Values): Promise<void> {
  const res = await createClient(v).request<RolloutList>('GET', '/rollouts');
  if (v.json) return json(res);
  const rows = [['ID', 'MODEL', 'VERSION', 'ROLE', 'STATUS', 'WAVE', 'DEVICES', 'CREATED']];
  for (const r of res.rollouts) {
    const wave = r.plan ? `${r.wave + 1}/${r.plan.waves.length}` : 'all';
    rows.push([r.id, r.model, r.version, r.role, r.status, wave, String(r.devices), r.createdAt]);
  }
  out(table(rows));
}

const ACTION_SUMMARY = {
  pause: 'Pause a gated rollout before its next wave.',
  resume: 'Resume a paused rollout.',
  abort: 'Abort a rollout: its devices return to what they ran before.',
  promote: 'Make a shadow version active.',
} as const;

export const ROLLOUT_COMMANDS: CommandSpec[] = [
  {
    words: ['rollout', 'start'],
    summary: 'Roll NAME@VERSION out in gated waves (default 1, 10, 50, 100 % with a 10 min soak).',
    positionals: [{ name: 'NAME@VERSION' }],
    options: ['all', 'tag', 'device', 'waves', 'soak', 'on-fail', 'max-soak', 'on-no-evidence', 'shadow', 'gate', 'device-timeout', 'capture'],
    choices: { 'on-fail': ON_FAIL, 'on-no-evidence': ON_NO_EVIDENCE },
    values: { capture: 'POLICY.json' },
    client: true,
    notes:
      'Targets: --all, --tag k=v or --device ID (repeatable, combined). --waves 100 --soak 0 issues at once. ' +
      'A wave whose gates lack evidence (too few inferences, labels, …) soaks on for it up to --max-soak, then --on-no-evidence decides. ' +
      '--capture POLICY.json: this rollout’s capture rule ({ rate, triggers, … } as `data capture set --file`) for the devices it reaches.',
    check: (v, pos) => {
      parseSpec(pos[0]!);
      parseTags(v.tag);
      if (!v.all && !v.tag?.length && !v.device?.length) throw usageError('rollout start needs --all, --tag k=v or --device ID');
      parseWaves(v);
      if (v.gate?.length) parseGates(v.gate);
      if (v.capture) policyFile('capture', v.capture);
    },
    run: (pos, v) => rolloutStart(pos[0]!, v),
  },
  {
    words: ['rollout', 'ls'],
    aliases: [['rollout', 'list']],
    summary: 'List rollouts with their wave and status.',
    client: true,
    run: (_pos, v) => rolloutLs(v),
  },
  {
    words: ['rollout', 'show'],
    summary: 'One rollout: waves, devices per state, every gate’s value against its limit, shadow comparison.',
    positionals: [{ name: 'ID' }],
    options: ['watch', 'interval'],
    client: true,
    notes: 'With --watch it prints the rollout again every --interval until it ends: exit 0 when it completed, 1 when it was paused, rolled back, aborted or superseded.',
    check: (v) => {
      if (v.interval !== undefined && !v.watch) throw usageError('rollout show: --interval goes with --watch');
      const ms = v.interval === undefined ? 2000 : parseDuration(v.interval, { unitRequired: true });
      if (ms === null || ms < 200) throw usageError(`--interval must be a duration of at least 200ms like 2s, got ${JSON.stringify(v.interval)}`);
    },
    run: (pos, v) => rolloutShow(pos[0]!, v),
  },
  ...(['pause', 'resume', 'abort', 'promote'] as const).map(
    (action): CommandSpec => ({
      words: ['rollout', action],
      summary: ACTION_SUMMARY[action],
      positionals: [{ name: 'ID' }],
      client: true,
      run: async (pos, v) => {
        const res = await createClient(v).request<RolloutAnswer>('POST', `/rollouts/${encodeURIComponent(pos[0]!)}/${action}`);
        return v.json ? json(res) : out(`rollout ${pos[0]} ${res.rollout.status}\n`);
      },
    }),
  ),
];
