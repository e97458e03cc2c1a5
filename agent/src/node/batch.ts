// Batch inference on device data (design §2 `edgefleet-agent batch`, §4 command `batch`): the active verified
// model over a local JSONL or CSV file, streamed row by row, every row checked with zod and decoded like an OIP
// request; a bad row is counted with its line number, never fatal (unless strict). Output JSONL or CSV.

import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import * as z from 'zod';
import {
  EdgefleetError,
  OipInferRequest,
  decodeInferInputs,
  encodeOutputs,
  oipDatatypeOf,
  requestedOutputNames,
  toEdgefleetError,
  verifyManifestEnvelope,
  type Envelope,
  type ErrorCode,
  type Manifest,
  type OipInferResponse,
  type TelemetryWindow,
} from '@edgefleet/protocol';
import type { AgentStore } from '../core/ports.js';
import type { InferenceRuntime } from '../core/runtime.js';
import { withholdWindows } from '../core/capture.js';
import { outputProbe } from '../core/telemetry-counters.js';
import { createModelTelemetry } from '../core/telemetry-recorder.js';
import { settingsOf, type ModelSlot } from '../core/update-plan.js';
import type { StoredDesired, StoredKeyring } from '../core/context.js';
import { createTally, csvColumns, csvFields, csvLayout, csvRow, jsonRow } from './batch-rows.js';

/** The model a batch runs on: its manifest (features, labels, outputs) and OIP inference pinned to it. */
export interface BatchModel {
  name: string;
  version: string;
  manifest: Manifest;
  infer(request: OipInferRequest): Promise<OipInferResponse>;
}

export interface BatchOptions {
  input: string;
  output: string;
  /** The first bad row ends the batch (exit 1, no output file). */
  strict?: boolean;
  /** Fraction of the input's bytes read so far, after each row. */
  onProgress?: (fraction: number) => void;
  /** Rows running at once (default 4; 1 with `strict`): parsing and writing overlap onnxruntime's runs; output stays in input order. */
  inFlight?: number;
  /** A row that failed, by its 1-based line in the input. */
  onBadRow?: (line: number, code: ErrorCode, message: string) => void;
}

export interface BatchSummary {
  rows: number;
  failed: number;
  seconds: number;
  rowsPerSecond: number;
  /** The output file (written atomically: a temporary file renamed once the batch is done). */
  output: string;
  /** Predicted class counts (classifiers), by label name when the manifest has labels. */
  classes?: Record<string, number>;
  /** Mean of the predicted values (regressors and models without a known output kind). */
  mean?: number;
  /** `strict`: the line of the bad row that ended the batch (nothing written). */
  abortedAt?: number;
}


async function writeLine(stream: fs.WriteStream, line: string): Promise<void> {
  if (stream.write(`${line}\n`)) return;
  await new Promise<void>((resolve, reject) => {
    const drained = (): void => {
      stream.off('error', failed);
      resolve();
    };
    const failed = (err: Error): void => {
      stream.off('drain', drained);
      reject(err);
    };
    stream.once('drain', drained);
    stream.once('error', failed);
  });
}

/**
 * Run `model` over `options.input` (`.csv`: CSV with a header, else JSONL), writing one result per row to
 * `options.output` (`.csv`: CSV, else JSONL `{ row, ...OIP response }` or `{ row, error: { code, message } }`).
 * Throws BAD_INPUT when the file cannot be read at all (a missing file, a CSV header that fits no feature).
 */
export async function runBatch(model: BatchModel, options: BatchOptions): Promise<BatchSummary> {
  const t0 = performance.now();
  const size = (await fs.promises.stat(options.input).catch((err: unknown) => {
    throw new EdgefleetError('BAD_INPUT', `cannot read ${options.input}: ${(err as Error).message}`, { cause: err });
  })).size;
  const csvIn = options.input.toLowerCase().endsWith('.csv');
  const csvOut = options.output.toLowerCase().endsWith('.csv');
  const columns = csvOut ? csvColumns(model.manifest) : null;
  const tally = createTally(model.manifest);
  const input = fs.createReadStream(options.input);
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  // taken now, before the first await: readline emits lines as soon as the file is read, and lines emitted
  // before an iterator exists are lost (a slow output open lost whole files); the iterator buffers them
  const texts = lines[Symbol.asyncIterator]();
  const tmp = `${options.output}.tmp-${process.pid}`;
  const out = fs.createWriteStream(tmp);
  const opened = new Promise<void>((resolve, reject) => {
    out.once('open', () => resolve());
    out.once('error', reject);
  });
  let rows = 0;
  let failed = 0;
  let lineNo = 0;
  let layout: ReturnType<typeof csvLayout> | null = null;
  let abortedAt: number | undefined;
  // strict runs one row at a time: nothing after the bad row runs (or counts in telemetry)
  const inFlight = options.strict ? 1 : Math.max(1, options.inFlight ?? 4);
  type Answer = { res: OipInferResponse; error?: undefined } | { res?: undefined; error: { code: ErrorCode; message: string } };
  const pending: { line: number; result: Promise<Answer> }[] = [];
  /** Write one row's answer; false when it ends a strict batch. */
  const settle = async (p: (typeof pending)[number]): Promise<boolean> => {
    const { res, error } = await p.result;
    if (res) tally.add(res);
    else {
      failed++;
      options.onBadRow?.(p.line, error.code, error.message);
      if (options.strict) {
        abortedAt = p.line;
        return false;
      }
    }
    if (columns) await writeLine(out, columns.line(p.line, res ?? null, error ? `${error.code}: ${error.message}` : ''));
    else await writeLine(out, JSON.stringify(res ? { row: p.line, ...res } : { row: p.line, error }));
    options.onProgress?.(size > 0 ? Math.min(1, input.bytesRead / size) : 1);
    return true;
  };
  try {
    await opened.catch((err: unknown) => {
      throw new EdgefleetError('BAD_INPUT', `cannot write ${options.output}: ${(err as Error).message}`, { cause: err });
    });
    if (columns) await writeLine(out, columns.header.join(','));
    for await (const text of texts) {
      lineNo++;
      if (text.trim() === '') continue;
      if (csvIn && layout === null) {
        layout = csvLayout(model.manifest, csvFields(text.replace(/^\uFEFF/, '')));
        continue;
      }
      rows++;
      const line = lineNo;
      // parsed now, run without waiting: up to `inFlight` rows overlap (their results are written in order)
      const result = (async (): Promise<Answer> => {
        try {
          return { res: await model.infer(csvIn ? csvRow(layout!, text) : jsonRow(model.manifest, text)) };
        } catch (err) {
          const e = toEdgefleetError(err, 'INFERENCE_FAILED');
          return { error: { code: e.code, message: e.message } };
        }
      })();
      pending.push({ line, result });
      if (pending.length >= inFlight && !(await settle(pending.shift()!))) break;
    }
    while (abortedAt === undefined && pending.length > 0) await settle(pending.shift()!);
  } catch (err) {
    lines.close();
    input.destroy();
    await new Promise((r) => out.end(r));
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
  lines.close();
  input.destroy();
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  if (abortedAt !== undefined) await fs.promises.rm(tmp, { force: true });
  else await fs.promises.rename(tmp, options.output);
  const seconds = (performance.now() - t0) / 1000;
  return { rows, failed, seconds, rowsPerSecond: seconds > 0 ? rows / seconds : 0, output: options.output, ...tally.result(), ...(abortedAt !== undefined ? { abortedAt } : {}) };
}

/** The one-line summary (CLI and the `batch-finished` event). */
export function summaryLine(model: Pick<BatchModel, 'name' | 'version'>, s: BatchSummary): string {
  const what = s.classes
    ? ` classes ${Object.entries(s.classes).map(([k, v]) => `${k}=${v}`).join(' ') || '-'}`
    : s.mean !== undefined
      ? ` mean ${Number(s.mean.toPrecision(6))}`
      : '';
  const end = s.abortedAt !== undefined ? `stopped at line ${s.abortedAt} (strict), nothing written` : `→ ${path.basename(s.output)}`;
  return `batch ${model.name}@${model.version}: ${s.rows} rows, ${s.failed} failed, ${Math.round(s.rowsPerSecond)} rows/s${what} ${end}`;
}

// ---- offline: the data dir without the daemon (design §2 `edgefleet-agent batch`) ----

export interface OfflineModel extends BatchModel {
  /** Close the telemetry windows into the outbox (sent when the daemon next runs) and release the session. */
  close(): Promise<void>;
}

/**
 * The active verified model of `name` from a data dir the caller has locked (openSqliteStore): the slot's
 * active version, its stored manifest envelope re-verified against the stored keyring (design §3), the
 * artifact's sha256 checked against that manifest, then loaded. Telemetry windows are the agent's own
 * (telemetry-recorder.ts), role `active`: the window schema has no field for where a row came from.
 */
export async function openOfflineModel(store: AgentStore, runtime: InferenceRuntime, name: string, digestOf: (bytes: Uint8Array) => string, options: { outboxMaxWindows?: number } = {}): Promise<OfflineModel> {
  const slots = (await store.get<Record<string, ModelSlot>>('slots')) ?? {};
  const ref = slots[name]?.active;
  if (!ref) throw new EdgefleetError('NOT_FOUND', `no active verified model '${name}' in this data dir (models: ${Object.keys(slots).join(', ') || 'none'})`);
  const doc = await store.get<{ manifest: Manifest; envelope?: Envelope }>(`manifest:${ref.sha256}`);
  const keyring = await store.get<StoredKeyring>('keyring');
  if (!doc?.envelope || !keyring) throw new EdgefleetError('NOT_FOUND', `no signed manifest stored for ${name}@${ref.version}`);
  const v = verifyManifestEnvelope(doc.envelope, keyring.keyring, new Date());
  if (!v.ok) throw new EdgefleetError(v.code, `${name}@${ref.version}: stored manifest: ${v.message}`);
  const manifest = v.value;
  if (manifest.model !== name || manifest.version !== ref.version || manifest.artifact.sha256 !== ref.sha256) {
    throw new EdgefleetError('HASH_MISMATCH', `stored manifest of ${name}@${ref.version} does not name the active artifact`);
  }
  const bytes = await store.readArtifact(ref.sha256);
  if (!bytes) throw new EdgefleetError('NOT_FOUND', `artifact of ${name}@${ref.version} is not on disk`);
  if (bytes.length !== manifest.artifact.size) throw new EdgefleetError('SIZE_MISMATCH', `artifact of ${name}@${ref.version} on disk is ${bytes.length} bytes, the manifest says ${manifest.artifact.size}`);
  if (digestOf(bytes) !== manifest.artifact.sha256) throw new EdgefleetError('HASH_MISMATCH', `artifact of ${name}@${ref.version} on disk does not match its signed sha256`);
  const session = await runtime.load(bytes).catch((err: unknown) => {
    throw toEdgefleetError(err, 'MODEL_LOAD_FAILED');
  });

  const settings = settingsOf((await store.get<StoredDesired>('desired'))?.telemetry);
  const windowMs = settings.windowSeconds * 1000;
  const closed: TelemetryWindow[] = [];
  let telemetry = createModelTelemetry(manifest, 'active', windowMs, Date.now());
  const outputNames = manifest.io.outputs.map((o) => o.name);

  return {
    name,
    version: manifest.version,
    manifest,
    // the agent's infer (agent-core.ts): decode, run, record the window, answer in OIP form
    async infer(request) {
      const feeds = decodeInferInputs(manifest.io.inputs, request.inputs);
      const names = requestedOutputNames(manifest.io.outputs, request.outputs);
      const t0 = performance.now();
      let outputs;
      try {
        outputs = await session.run(feeds, names);
      } catch (err) {
        const e = toEdgefleetError(err, 'INFERENCE_FAILED');
        telemetry.recordError(e.code === 'INTERNAL' ? 'INFERENCE_FAILED' : e.code);
        throw e;
      }
      const ms = performance.now() - t0;
      const now = Date.now();
      if (now >= telemetry.end) {
        const w = telemetry.rotate(now);
        if (w) closed.push(w);
      }
      telemetry.record(feeds, outputs, ms);
      return { model_name: name, model_version: manifest.version, id: request.id ?? randomUUID(), outputs: encodeOutputs(outputs, names ?? outputNames) };
    },
    async close() {
      const w = telemetry.rotate(Date.now(), true);
      if (w) closed.push(w);
      telemetry = createModelTelemetry(manifest, 'active', windowMs, Date.now());
      if (closed.length > 0) {
        const windows = closed.splice(0);
        withholdWindows(windows, settings.capture); // design §4 capture: as the serving agent's windows
        await store.outboxAppend(windows, options.outboxMaxWindows ?? 10_000);
      }
      await session.release().catch(() => {});
    },
  };
}

// ---- the signed `batch` command (design §4): a file inside the directory the device allowed ----

/**
 * `name` inside `dir`: FORBIDDEN for an absolute path, one that climbs out, or one whose real path (symlinks
 * followed) leaves the directory; NOT_FOUND when there is no such file.
 */
export function resolveBatchFile(dir: string, name: string): string {
  if (path.isAbsolute(name) || name.includes('\0') || name.split(/[\\/]/).includes('..')) {
    throw new EdgefleetError('FORBIDDEN', `batch path ${JSON.stringify(name)} is not a file name inside the batch directory`);
  }
  const root = fs.realpathSync(dir);
  const file = path.resolve(root, name);
  let real: string;
  try {
    real = fs.realpathSync(file);
  } catch {
    throw new EdgefleetError('NOT_FOUND', `batch file ${JSON.stringify(name)} is not in the batch directory`);
  }
  const rel = path.relative(root, real);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) throw new EdgefleetError('FORBIDDEN', `batch path ${JSON.stringify(name)} leads outside the batch directory`);
  return real;
}
