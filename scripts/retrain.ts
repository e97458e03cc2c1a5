// A small retraining service (issue 14 item 5, design §7 webhooks): an HTTP receiver on 127.0.0.1 that checks
// each delivery's HMAC (401 on a bad one), and on a drift alarm for MODEL@VERSION scoped to a tag group exports
// that group's captured, labelled rows through the hub API (the route `edgefleet data export --labelled` uses),
// retrains with scripts/lib/train.ts, pushes the next major version through the `--validation --min-accuracy`
// gate with `dataset` = the export's sha256, and starts a gated rollout to the drifted tag group.
//
// Library: createRetrainService(options) → { url, handled, close }; retrain(options, alarm) is the core.
// CLI: `npm run retrain -- --hub URL --token-file F --secret-file F [--port N]` prints its URL; add it as a
// webhook (`POST /api/v1/webhooks { url }`).

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as z from 'zod';
import { EdgefleetError } from '@edgefleet/protocol';
import { createHubClient, type RolloutInput } from './sim/hub-client.js';
import { accuracy, exportClassifierOnnx, generateVibrationDataset, toInferRequest, toValidationJsonl, trainMlp, VIBRATION_FEATURES, VIBRATION_LABELS, type Dataset } from './lib/train.js';

/** Design §7's receiver check: `sha256=` + hex HMAC-SHA256 of the raw body, compared in constant time. */
export function signatureValid(secret: string, raw: Uint8Array, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string') return false;
  const expected = Buffer.from('sha256=' + createHmac('sha256', secret).update(raw).digest('hex'));
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** How old a signed delivery may be (its `at`), and how far ahead of this clock. */
const MAX_DELIVERY_AGE_MS = 3600_000;
const MAX_CLOCK_SKEW_MS = 300_000;

/** The part of a drift-alarm webhook body the service acts on (hub/src/telemetry/drift-alarm.ts DriftAlarmDetails). */
export const DriftAlarmBody = z.object({
  id: z.string(),
  event: z.string(),
  at: z.iso.datetime({ offset: true }),
  payload: z.object({
    model: z.string().min(1),
    version: z.string().regex(/^\d+\.\d+\.\d+/),
    feature: z.string(),
    scope: z.record(z.string(), z.string()).nullable(),
    message: z.string().optional(),
  }),
});
export type DriftAlarmBody = z.infer<typeof DriftAlarmBody>;

/** One line of `POST /datasets/:model/:version/export` (hub/src/http/routes/datasets.ts DatasetLine), as far as training needs it. */
const ExportLine = z.object({
  features: z.record(z.string(), z.union([z.number(), z.string(), z.boolean(), z.null()])),
  label: z.union([z.number(), z.string()]).nullable(),
});

export interface RetrainOptions {
  hub: string;
  token: string;
  /** Fewer labelled rows than this: the demo's generated training data is added (default 300). */
  minRows?: number;
  /** The push gate (`--min-accuracy`); default 0.8. */
  minAccuracy?: number;
  /** The rollout to the drifted group; default waves 50 %, 100 %, 5 s soak, roll back on a failed gate. */
  rollout?: Omit<RolloutInput, 'model' | 'version' | 'targets'>;
  log?: (line: string) => void;
}

export interface RetrainResult {
  model: string;
  from: string;
  version: string;
  scope: Record<string, string>;
  dataset: { sha256: string; rows: number };
  trainRows: number;
  validationAccuracy: number;
  rollout: string;
}

/**
 * A captured row's features in the classifier's input order: by name (`rms`, or the reference's `features.rms`),
 * else by position (`features.0` … when the model names no features); null when one is missing or not a number.
 */
function featureVector(f: Record<string, unknown>): number[] | null {
  const keys = Object.keys(f);
  const last = (k: string) => k.slice(k.lastIndexOf('.') + 1);
  const values = VIBRATION_FEATURES.map((name, i) => {
    const k = keys.find((x) => x === name || last(x) === name) ?? keys.find((x) => last(x) === String(i));
    return k === undefined ? undefined : f[k];
  });
  return values.every((v): v is number => typeof v === 'number' && Number.isFinite(v)) ? values : null;
}

function classIndex(label: string | number | null): number | null {
  if (typeof label === 'number') return Number.isInteger(label) && label >= 0 && label < VIBRATION_LABELS.length ? label : null;
  const i = (VIBRATION_LABELS as readonly string[]).indexOf(label ?? '');
  return i >= 0 ? i : null;
}

/** JSON Lines of an export → a dataset (rows without a usable label or feature vector are skipped). */
export function datasetFromExport(jsonl: string): Dataset {
  const rows: number[][] = [];
  const y: number[] = [];
  for (const line of jsonl.split('\n')) {
    if (!line.trim()) continue;
    const parsed = ExportLine.safeParse(JSON.parse(line));
    if (!parsed.success) continue;
    const x = featureVector(parsed.data.features);
    const c = classIndex(parsed.data.label);
    if (x === null || c === null) continue;
    rows.push(x);
    y.push(c);
  }
  const cols = VIBRATION_FEATURES.length;
  return { X: { rows: rows.length, cols, data: Float32Array.from(rows.flat()) }, y: Int32Array.from(y), featureNames: [...VIBRATION_FEATURES], labels: [...VIBRATION_LABELS] };
}

function concat(a: Dataset, b: Dataset): Dataset {
  const data = new Float32Array(a.X.data.length + b.X.data.length);
  data.set(a.X.data);
  data.set(b.X.data, a.X.data.length);
  const y = new Int32Array(a.y.length + b.y.length);
  y.set(a.y);
  y.set(b.y, a.y.length);
  return { ...a, X: { rows: a.X.rows + b.X.rows, cols: a.X.cols, data }, y };
}

/** Every k-th row (k = 5) held out for validation, the rest for training: both keep the capture's mix. */
function split(ds: Dataset): { train: Dataset; valid: Dataset } {
  const pick = (keep: (i: number) => boolean): Dataset => {
    const idx = Array.from({ length: ds.X.rows }, (_, i) => i).filter(keep);
    const cols = ds.X.cols;
    const data = new Float32Array(idx.length * cols);
    idx.forEach((r, k) => data.set(ds.X.data.subarray(r * cols, r * cols + cols), k * cols));
    return { ...ds, X: { rows: idx.length, cols, data }, y: Int32Array.from(idx.map((r) => ds.y[r]!)) };
  };
  return { train: pick((i) => i % 5 !== 4), valid: pick((i) => i % 5 === 4) };
}

/** The export the CLI's `edgefleet data export NAME@VERSION --labelled --tag k=v` makes, hash checked. */
export async function exportCaptured(hub: string, token: string, model: string, version: string, scope: Record<string, string>): Promise<{ jsonl: string; sha256: string; rows: number }> {
  const res = await fetch(`${hub.replace(/\/$/, '')}/api/v1/datasets/${encodeURIComponent(model)}/${encodeURIComponent(version)}/export`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ labelled: true, tag: Object.entries(scope).map(([k, v]) => `${k}=${v}`) }),
  });
  const jsonl = await res.text();
  if (!res.ok) throw new EdgefleetError('UNAVAILABLE', `export of ${model}@${version}: ${res.status} ${jsonl.slice(0, 200)}`);
  const sha256 = createHash('sha256').update(jsonl).digest('hex');
  if (sha256 !== res.headers.get('x-dataset-sha256')) throw new EdgefleetError('HASH_MISMATCH', `export of ${model}@${version}: body hash ${sha256} is not the hub's ${res.headers.get('x-dataset-sha256')}`);
  return { jsonl, sha256, rows: Number(res.headers.get('x-dataset-rows') ?? 0) };
}

/** The next major version after `version` (2.0.0 → 3.0.0). */
export function nextVersion(version: string): string {
  return `${Number(version.split('.')[0]) + 1}.0.0`;
}

/** The core: export → train → push (gated, dataset = export hash) → gated rollout to the drifted group. */
export async function retrain(options: RetrainOptions, alarm: DriftAlarmBody['payload']): Promise<RetrainResult> {
  const log = options.log ?? (() => undefined);
  const scope = alarm.scope;
  if (!scope || Object.keys(scope).length === 0) throw new EdgefleetError('BAD_INPUT', `drift alarm for ${alarm.model}@${alarm.version} names no tag group: nothing to retrain for`);
  const client = createHubClient(options.hub, options.token);
  const where = Object.entries(scope).map(([k, v]) => `${k}=${v}`).join(',');
  const exported = await exportCaptured(options.hub, options.token, alarm.model, alarm.version, scope);
  const captured = datasetFromExport(exported.jsonl);
  log(`exported ${exported.rows} labelled rows of ${alarm.model}@${alarm.version} (${where}), sha256 ${exported.sha256.slice(0, 16)}…`);
  const { train: capTrain, valid } = split(captured);
  const minRows = options.minRows ?? 300;
  // few captured rows: the demo's own generated data keeps the classes learnable; validation stays captured data
  const train = captured.X.rows < minRows ? concat(capTrain, generateVibrationDataset({ n: 1500, seed: 7 })) : capTrain;
  if (valid.X.rows === 0) throw new EdgefleetError('BAD_INPUT', `only ${captured.X.rows} usable labelled rows of ${alarm.model}@${alarm.version} (${where})`);
  const m = trainMlp(train.X, train.y, { classes: VIBRATION_LABELS.length, hidden: 16, epochs: 40, seed: 11 });
  const version = nextVersion(alarm.version);
  const validationAccuracy = accuracy(m, valid.X, valid.y);
  log(`trained ${alarm.model}@${version}: mlp on ${train.X.rows} rows, accuracy ${(validationAccuracy * 100).toFixed(1)}% on ${valid.X.rows} held-out captured rows`);
  const bytes = exportClassifierOnnx(m, { labels: VIBRATION_LABELS, featureNames: VIBRATION_FEATURES, metadata: { dataset: `captured:${alarm.model}@${alarm.version}`, build: version } });
  await client.pushModel({
    name: alarm.model,
    version,
    file: bytes,
    validation: toValidationJsonl(valid),
    sample: toInferRequest(valid, { count: 2 }),
    minAccuracy: options.minAccuracy ?? 0.8,
    dataset: exported.sha256,
    run: `retrain-${alarm.version}-${where}`,
  });
  const rollout = await client.startRollout({
    waves: [50, 100],
    soak: '5s',
    maxSoak: '10s',
    onFail: 'rollback',
    onNoEvidence: 'pass',
    ...options.rollout,
    model: alarm.model,
    version,
    targets: { tags: [scope] },
  });
  log(`pushed ${alarm.model}@${version} (dataset ${exported.sha256.slice(0, 16)}…), rollout ${rollout.id} to ${where}`);
  return { model: alarm.model, from: alarm.version, version, scope, dataset: { sha256: exported.sha256, rows: exported.rows }, trainRows: train.X.rows, validationAccuracy, rollout: rollout.id };
}

export interface RetrainServiceOptions extends RetrainOptions {
  /** The hub's webhook secret (its `<data>/webhook-secret`). */
  secret: string;
  /** Port on 127.0.0.1; default 0. */
  port?: number;
}

export interface RetrainService {
  readonly url: string;
  /** Each retraining, in order (resolved or failed). */
  readonly handled: Array<Promise<RetrainResult>>;
  close(): Promise<void>;
}

const MAX_BODY = 1024 * 1024;

function readBody(req: IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let n = 0;
    req.on('data', (b: Buffer) => {
      n += b.length;
      if (n > MAX_BODY) {
        resolve(null);
        req.destroy();
      } else parts.push(b);
    });
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

/** The receiver: 401 on a bad signature, 202 when a drift alarm starts a retraining, 200 for anything else signed. */
export async function createRetrainService(options: RetrainServiceOptions): Promise<RetrainService> {
  const log = options.log ?? (() => undefined);
  const handled: Array<Promise<RetrainResult>> = [];
  /** model@version|scope already retrained (or under way): a re-raised alarm or a redelivery does not push twice. */
  const seen = new Set<string>();
  const server = createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    void (async () => {
      if (req.method !== 'POST') return reply(405, { error: { code: 'BAD_INPUT', message: 'POST webhook deliveries here' } });
      const raw = await readBody(req);
      if (raw === null) return reply(413, { error: { code: 'TOO_LARGE', message: `body over ${MAX_BODY} bytes` } });
      if (!signatureValid(options.secret, raw, req.headers['x-edgefleet-signature'])) {
        log('refused a delivery: bad signature');
        return reply(401, { error: { code: 'UNAUTHORIZED', message: 'bad X-Edgefleet-Signature' } });
      }
      let json: unknown;
      try {
        json = JSON.parse(raw.toString('utf8'));
      } catch {
        return reply(400, { error: { code: 'BAD_JSON', message: 'body is not JSON' } });
      }
      const body = DriftAlarmBody.safeParse(json);
      if (!body.success || body.data.event !== 'drift-alarm') return reply(200, { ignored: true });
      // design §7: the signed `at` lets a receiver refuse a replay of an old delivery (the hub's retries of one
      // delivery come well within the hour; a repeat of a recent one is de-duplicated below)
      const age = Date.now() - Date.parse(body.data.at);
      if (age > MAX_DELIVERY_AGE_MS || age < -MAX_CLOCK_SKEW_MS) {
        log(`refused a delivery: sent at ${body.data.at}`);
        return reply(400, { error: { code: 'EXPIRED', message: `delivery sent at ${body.data.at}: older than an hour or from the future (a replay?)` } });
      }
      const a = body.data.payload;
      const key = `${a.model}@${a.version}|${JSON.stringify(a.scope)}`;
      if (!a.scope || seen.has(key)) return reply(200, { ignored: true });
      seen.add(key);
      log(`drift alarm: ${a.message ?? `${a.model}@${a.version} ${a.feature}`}`);
      const job = retrain(options, a);
      job.catch((err: unknown) => {
        seen.delete(key); // a failed attempt may be retried by the next alarm
        log(`retraining ${a.model}@${a.version} failed: ${err instanceof Error ? err.message : String(err)}`);
      });
      handled.push(job);
      return reply(202, { retraining: `${a.model}@${a.version}` });
    })().catch((err: unknown) => reply(500, { error: { code: 'INTERNAL', message: String(err) } }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    handled,
    close: async () => {
      await Promise.allSettled(handled);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { hub: { type: 'string' }, 'token-file': { type: 'string' }, 'secret-file': { type: 'string' }, port: { type: 'string', default: '0' } } });
  if (!values.hub || !values['token-file'] || !values['secret-file']) {
    console.error('usage: tsx scripts/retrain.ts --hub URL --token-file FILE --secret-file FILE [--port N]');
    process.exit(2);
  }
  const service = await createRetrainService({
    hub: values.hub,
    token: readFileSync(values['token-file'], 'utf8').trim(),
    secret: readFileSync(values['secret-file'], 'utf8').trim(),
    port: Number(values.port),
    log: (l) => console.log(l),
  });
  console.log(`retraining service at ${service.url}`);
  process.on('SIGINT', () => void service.close().then(() => process.exit(0)));
}
