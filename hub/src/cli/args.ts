// The CLI's argument grammar (design §2): each command declares its positionals and the options it
// takes; `node:util` parseArgs reads them strictly. An unknown option, a repeated single option, an
// extra or missing positional is BAD_INPUT before anything is sent, and `--help` is printed from the
// same declarations.

import { parseArgs } from 'node:util';
import { EdgefleetError } from '@edgefleet/protocol';

/** Every option of every command, with one type each (commands pick theirs by name). */
export const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
  output: { type: 'string', short: 'o' },
  hub: { type: 'string' },
  token: { type: 'string' },
  data: { type: 'string' },
  http: { type: 'string' },
  mqtt: { type: 'string' },
  ws: { type: 'string' },
  db: { type: 'string' },
  broker: { type: 'string' },
  'mosquitto-password-file': { type: 'string' },
  'mosquitto-pid-file': { type: 'string' },
  'mosquitto-acl-file': { type: 'string' },
  'broker-username': { type: 'string' },
  'broker-password': { type: 'string' },
  'replica-id': { type: 'string' },
  'broker-session-expiry': { type: 'string' },
  'public-url': { type: 'string' },
  artifacts: { type: 'string' },
  'device-isolation': { type: 'boolean' },
  webhook: { type: 'string', multiple: true },
  'webhook-secret': { type: 'string' },
  'key-file': { type: 'string' },
  out: { type: 'string' },
  tag: { type: 'string', multiple: true },
  clear: { type: 'boolean' },
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
  'max-soak': { type: 'string' },
  'on-no-evidence': { type: 'string' },
  shadow: { type: 'boolean' },
  gate: { type: 'string', multiple: true },
  'device-timeout': { type: 'string' },
  since: { type: 'string' },
  labelled: { type: 'boolean' },
  capture: { type: 'string' },
  'rollout-tick-ms': { type: 'string' },
  'max-model-bytes': { type: 'string' },
  role: { type: 'string' },
  by: { type: 'string' },
  minutes: { type: 'string' },
  event: { type: 'string' },
  limit: { type: 'string' },
  ttl: { type: 'string' },
  state: { type: 'string' },
  status: { type: 'string' },
  silent: { type: 'string' },
  watch: { type: 'boolean', short: 'w' },
  interval: { type: 'string' },
  file: { type: 'string' },
  rate: { type: 'string' },
  trigger: { type: 'string', multiple: true },
  features: { type: 'string' },
  hash: { type: 'string' },
  redact: { type: 'string' },
  'window-bytes': { type: 'string' },
  'disk-bytes': { type: 'string' },
} as const;

export type OptionName = keyof typeof OPTIONS;
const parseAll = (args: string[]) => parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
export type Values = ReturnType<typeof parseAll>['values'];

/** Value placeholder and one line of help per option. */
const OPTION_HELP: Partial<Record<OptionName, [string, string]>> = {
  json: ['', 'print the API response as JSON (= -o json)'],
  output: ['json|yaml', 'print the API response as JSON or YAML (-o)'],
  hub: ['URL', 'hub address (EDGEFLEET_HUB, default http://127.0.0.1:8080)'],
  token: ['T', 'API token (EDGEFLEET_TOKEN, else <data>/admin-token)'],
  data: ['DIR', 'data dir (default ./edgefleet-data)'],
  http: ['HOST:PORT', 'HTTP API address (default 127.0.0.1:8080)'],
  mqtt: ['HOST:PORT', 'embedded MQTT over TCP (default 127.0.0.1:1883; off disables)'],
  ws: ['HOST:PORT', 'embedded MQTT over WebSocket (default 127.0.0.1:8083; off disables)'],
  db: ['URL', 'the database: postgres://USER@HOST:PORT/DB (replicas share one; password also from EDGEFLEET_DB_PASSWORD) or a SQLite file (default <data>/hub.db)'],
  broker: ['URL', 'an external MQTT broker instead of the embedded one'],
  'broker-username': ['U', 'the hub’s broker user name'],
  'broker-password': ['P', 'the hub’s broker password (or EDGEFLEET_BROKER_PASSWORD)'],
  'replica-id': ['ID', 'with --broker: this hub replica’s id, MQTT client id edgefleet_hub_ID (default: made once, kept in <data>/replica-id)'],
  'broker-session-expiry': ['SECONDS', 'with --broker: how long the broker keeps this hub’s session (and its share of device messages) while it is away (default 86400 on SQLite, 30 on PostgreSQL)'],
  'mosquitto-password-file': ['FILE', 'Mosquitto password file the hub keeps in sync with its devices'],
  'mosquitto-pid-file': ['FILE', 'Mosquitto pid file: SIGHUP after a credential change'],
  'mosquitto-acl-file': ['FILE', 'Mosquitto acl_file: the hub writes its artifact multicast grants into it'],
  'public-url': ['URL', 'base URL agents use for the HTTP API'],
  artifacts: ['DIR', 'model artifact files (default <data>/artifacts); replicas share one directory'],
  'device-isolation': ['', 'serve /device cross-origin isolated (COOP/COEP), so onnxruntime-web may use threads'],
  'max-model-bytes': ['N', 'cap of a model upload in bytes (default 1 GiB), checked while it streams'],
  webhook: ['URL', 'webhook receiver (repeatable): gate failures, rollout outcomes, rollbacks, drift, silent devices'],
  'webhook-secret': ['S', 'HMAC secret of webhooks (or EDGEFLEET_WEBHOOK_SECRET, else <data>/webhook-secret)'],
  'key-file': ['FILE', 'PostgreSQL: the key-encryption key sealing the hub’s keys in the database, the same on every replica (or EDGEFLEET_KEY_ENCRYPTION_KEY; make one: openssl rand -base64 32)'],
  out: ['FILE', 'write the output here'],
  tag: ['k=v', 'a tag (repeatable)'],
  clear: ['', 'remove every tag'],
  device: ['ID', 'a device id'],
  all: ['', 'every device'],
  name: ['NAME', 'model name'],
  model: ['NAME', 'model name'],
  file: ['NAME', 'device batch: a file in the device’s batch directory; data capture set: a capture rule (JSON)'],
  version: ['SEMVER', 'model version'],
  sample: ['REQ.json', 'one inference request for the self-test'],
  validation: ['FILE.jsonl', 'validation rows: accuracy, latency, drift reference'],
  reference: ['FILE.json', 'drift reference instead of the derived one'],
  labels: ['FILE.json', 'JSON array of class names'],
  'min-accuracy': ['0.9', 'refuse the model below this validation accuracy'],
  dataset: ['ID|SHA', 'lineage: dataset id, or the sha256 of an `edgefleet data export` (recorded by the hub)'],
  run: ['ID', 'lineage: training run'],
  commit: ['SHA', 'lineage: git commit'],
  url: ['MIRROR', 'a CDN or object store serving the same bytes with HTTP range requests (repeatable)'],
  waves: ['1,10,50,100', 'wave sizes in percent (100 with --soak 0: all at once)'],
  soak: ['10m', 'soak time per wave'],
  'on-fail': ['pause|rollback', 'what a failed gate does'],
  'max-soak': ['1h', 'how long a wave soaks on while gates lack evidence (default 6 × soak, at most soak + 1h)'],
  'on-no-evidence': ['pause|pass|fail', 'what a wave does when gates still lack evidence at the max soak (default pause)'],
  shadow: ['', 'run the new version in shadow beside the active one'],
  gate: ['NAME=VALUE', 'a gate limit (repeatable): maxDeviceFailureRate, maxErrorRate, maxP95RegressionPct, minSamples, maxDriftedFeatures, driftMinCount, maxAccuracyDrop, maxEstimatedAccuracyDrop, minLabels, minLabelCoverage, minReportingDevices, minShadowAgreement, requireVerdict=drift,accuracy-drop'],
  'device-timeout': ['30m', 'a device that has not converged by then counts as failed'],
  since: ['1h', 'time range back from now (30m, 1h, 7d)'],
  labelled: ['', 'only rows with a label'],
  capture: ['FILE.json', 'hub start: the default field-data capture rules sent to devices, [{ model, version?, rate, triggers, windowBytes, diskBytes, features, hash, redact }]; rollout start: this rollout’s one rule, { rate, triggers, … }'],
  role: ['viewer|operator|admin', 'the token’s role'],
  minutes: ['60', 'health over the last N minutes'],
  by: ['KEY', 'one row per value of this tag key (site, region, hardware, …)'],
  event: ['E', 'only this event'],
  limit: ['N', 'at most N rows'],
  ttl: ['15m', 'how long the code stays valid (1m to 24h)'],
  state: ['S', 'only devices with a model in this state (active, installing, failed, …)'],
  status: ['online|offline', 'only devices with this connection status'],
  silent: ['30m', 'only devices offline and silent for at least this long'],
  watch: ['', 'print it again every --interval until it ends (-w)'],
  interval: ['2s', 'how often --watch asks (default 2s)'],
  rate: ['0.1', 'base sample rate: the share of predictions captured whatever the triggers'],
  trigger: ['T', 'a capture trigger (repeatable): low-confidence=0.6, tail=f0,f1, shadow-disagreement, label-contradiction'],
  features: ['a,b', 'feature allow-list: only these leave the device'],
  hash: ['a,b', 'fields sent as the sha256 of their value'],
  redact: ['a,b', 'fields removed on the device'],
  'window-bytes': ['N', 'bytes of captured rows per device per telemetry window (default 65536)'],
  'disk-bytes': ['N', 'bytes of captured rows a device keeps while offline (default 4 MiB)'],
};

export interface Positional {
  name: string;
  optional?: boolean;
  choices?: readonly string[];
}

export interface CommandSpec {
  /** The command words, e.g. ['device', 'tag']. */
  words: readonly string[];
  /** Other spellings (['device', 'remove']) or a group alone (['devices']). */
  aliases?: ReadonlyArray<readonly string[]>;
  summary: string;
  positionals?: readonly Positional[];
  options?: readonly OptionName[];
  required?: readonly OptionName[];
  /** Options parsed but left out of help (test knobs). */
  hidden?: readonly OptionName[];
  /** A client of the hub's HTTP API: takes --hub, --token, --data, --json and -o json|yaml. */
  client?: boolean;
  /** The values a string option may take; anything else is refused before anything is sent. */
  choices?: Partial<Record<OptionName, readonly string[]>>;
  /** Value placeholders that differ from the option's usual one (`--out DIR`). */
  values?: Partial<Record<OptionName, string>>;
  /** More lines of help. */
  notes?: string;
  /** Checks across options that parseArgs cannot express; throws BAD_INPUT. */
  check?: (v: Values, pos: readonly string[]) => void;
  run(pos: string[], v: Values): Promise<void>;
}

const CLIENT: readonly OptionName[] = ['hub', 'token', 'data', 'json', 'output'];

export const usageError = (message: string) => new EdgefleetError('BAD_INPUT', message);

function acceptedOptions(spec: CommandSpec): OptionName[] {
  return [...new Set<OptionName>(['help', ...(spec.client ? CLIENT : []), ...(spec.options ?? []), ...(spec.hidden ?? [])])];
}

export function usageLine(spec: CommandSpec): string {
  const pos = (spec.positionals ?? []).map((p) => (p.optional ? `[${p.choices?.join('|') ?? p.name}]` : (p.choices?.join('|') ?? p.name)));
  const opts = (spec.options ?? []).map((o) => {
    const cfg = OPTIONS[o] as { type: string; multiple?: boolean };
    const value = spec.values?.[o] ?? OPTION_HELP[o]?.[0];
    const text = `--${o}${cfg.type === 'string' && value ? ` ${value}` : ''}${cfg.multiple ? '...' : ''}`;
    return spec.required?.includes(o) ? text : `[${text}]`;
  });
  return ['edgefleet', ...spec.words, ...pos, ...opts].join(' ');
}

export function commandHelp(spec: CommandSpec): string {
  let s = `usage: ${usageLine(spec)}\n\n${spec.summary}\n`;
  if (spec.notes) s += `${spec.notes}\n`;
  const opts = acceptedOptions(spec).filter((o) => o !== 'help' && !spec.hidden?.includes(o));
  if (opts.length) {
    s += '\noptions:\n';
    for (const o of opts) {
      const [usual, text] = OPTION_HELP[o] ?? ['', ''];
      const value = spec.values?.[o] ?? usual;
      s += `  --${o}${value ? ` ${value}` : ''}`.padEnd(34) + ` ${text}\n`;
    }
  }
  return s;
}

const firstLine = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0]!;

/** The words that name a command: the leading positionals, whatever options sit among them. */
export function commandWords(argv: readonly string[]): string[] {
  const { positionals } = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: false });
  return positionals;
}

/** Strictly parses argv for one command (its words already matched); throws BAD_INPUT naming what is wrong. */
export function parseCommand(spec: CommandSpec, argv: readonly string[], wordCount: number): { pos: string[]; v: Values } {
  const name = spec.words.join(' ');
  const accepted = acceptedOptions(spec);
  const options = Object.fromEntries(accepted.map((o) => [o, OPTIONS[o]]));
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true, tokens: true });
  } catch (err) {
    const unknown = /^Unknown option '([^']+)'/.exec(firstLine(err))?.[1];
    throw usageError(`${name}: ${unknown ? `unknown option ${unknown}` : firstLine(err)}; see edgefleet ${name} --help`);
  }
  const v = parsed.values as Values;
  if (v.help) return { pos: [], v };
  // a single-valued option given twice would silently keep only the last one
  const seen = new Map<string, number>();
  for (const t of parsed.tokens ?? []) if (t.kind === 'option') seen.set(t.name, (seen.get(t.name) ?? 0) + 1);
  for (const [o, n] of seen) {
    if (n > 1 && !(OPTIONS[o as OptionName] as { multiple?: boolean }).multiple) throw usageError(`${name}: --${o} given ${n} times; it takes one value`);
  }
  const pos = parsed.positionals.slice(wordCount);
  const declared = spec.positionals ?? [];
  if (pos.length > declared.length) {
    throw usageError(`${name}: unexpected argument ${JSON.stringify(pos[declared.length])}; usage: ${usageLine(spec)}`);
  }
  declared.forEach((p, i) => {
    const value = pos[i];
    if (value === undefined) {
      if (!p.optional) throw usageError(`${name} needs ${p.name}; usage: ${usageLine(spec)}`);
    } else if (p.choices && !p.choices.includes(value)) {
      throw usageError(`${name}: ${p.name} must be one of ${p.choices.join(', ')}, got ${JSON.stringify(value)}`);
    }
  });
  for (const [o, choices] of Object.entries({ ...(spec.client ? { output: ['json', 'yaml'] } : {}), ...spec.choices })) {
    const val = v[o as OptionName];
    if (typeof val === 'string' && !choices.includes(val)) throw usageError(`${name}: --${o} must be one of ${choices.join(', ')}, got ${JSON.stringify(val)}`);
  }
  for (const o of spec.required ?? []) {
    const val = v[o];
    if (val === undefined || (Array.isArray(val) && val.length === 0)) throw usageError(`${name} needs --${o}; usage: ${usageLine(spec)}`);
  }
  spec.check?.(v, pos);
  return { pos, v };
}
