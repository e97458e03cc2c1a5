// `edgefleet-agent batch --config agent.json [--data DIR] --model NAME --in FILE --out FILE [--strict]` (design §2):
// the active verified model over a local file, offline, on a data dir no agent holds. Exit 0: every row
// answered; 1: some rows failed; 2: usage, CONFLICT (the daemon holds the data dir) or no verified model.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { EdgefleetError, parseAgentConfig, toEdgefleetError } from '@edgefleet/protocol';
import { openOfflineModel, runBatch, summaryLine, type OfflineModel } from './batch.js';
import { installNodeSignatureVerifier } from './ed25519.js';
import { createOnnxRuntime } from './onnx-runtime.js';
import { openSqliteStore } from './sqlite-store.js';

const USAGE = 'usage: edgefleet-agent batch --config agent.json [--data DIR] --model NAME --in FILE --out FILE [--strict] [--quiet]';

const digestOf = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** A progress bar on stderr, redrawn at most ~10 times a second; only on a terminal. */
function progressBar(stream: NodeJS.WriteStream): { update(fraction: number): void; done(): void } {
  let last = 0;
  let drawn = false;
  const draw = (f: number): void => {
    const width = 30;
    const full = Math.round(f * width);
    stream.write(`\r[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${(f * 100).toFixed(1).padStart(5)}%`);
    drawn = true;
  };
  return {
    update(f) {
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      draw(f);
    },
    done() {
      if (drawn) stream.write('\r\x1b[2K');
    },
  };
}

export async function batchMain(argv: string[]): Promise<number> {
  const fail = (message: string): number => {
    process.stderr.write(`edgefleet-agent batch: ${message}\n`);
    return 2;
  };
  let values: { config?: string; data?: string; model?: string; in?: string; out?: string; strict?: boolean; quiet?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        data: { type: 'string' },
        model: { type: 'string' },
        in: { type: 'string' },
        out: { type: 'string' },
        strict: { type: 'boolean' },
        quiet: { type: 'boolean', short: 'q' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    return fail(`${(err as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const missing = (['config', 'model', 'in', 'out'] as const).filter((k) => !values[k]);
  if (missing.length > 0) return fail(`${missing.map((k) => `--${k}`).join(', ')} required\n${USAGE}`);
  let dataDir: string;
  try {
    const config = parseAgentConfig(JSON.parse(fs.readFileSync(values.config!, 'utf8')));
    dataDir = path.resolve(values.data ?? config.dataDir);
  } catch (err) {
    return fail(`${err instanceof EdgefleetError ? `${err.code}: ` : ''}cannot read config ${values.config}: ${(err as Error).message}`);
  }
  // a data dir that is not there holds no verified model; opening the store would create one
  if (!fs.existsSync(dataDir)) return fail(`NOT_FOUND: no agent data dir at ${dataDir}`);

  installNodeSignatureVerifier();
  let store;
  try {
    // the data-dir lock (sqlite-store.ts): a running daemon holds it → CONFLICT
    store = openSqliteStore({ dataDir });
  } catch (err) {
    const e = toEdgefleetError(err);
    return fail(`${e.code}: ${e.message}${e.code === 'CONFLICT' ? ' (stop the agent, or send it a signed batch command)' : ''}`);
  }
  let model: OfflineModel | null = null;
  try {
    try {
      model = await openOfflineModel(store, createOnnxRuntime(), values.model!, digestOf);
    } catch (err) {
      const e = toEdgefleetError(err);
      return fail(`${e.code}: ${e.message}`);
    }
    const bar = process.stderr.isTTY && !values.quiet ? progressBar(process.stderr) : null;
    let summary;
    try {
      summary = await runBatch(model, {
        input: values.in!,
        output: values.out!,
        strict: values.strict === true,
        onProgress: bar ? (f) => bar.update(f) : undefined,
        onBadRow: (line, code, message) => {
          bar?.done();
          process.stderr.write(`${values.in}:${line}: ${code}: ${message}\n`);
        },
      });
    } catch (err) {
      bar?.done();
      const e = toEdgefleetError(err);
      return fail(`${e.code}: ${e.message}`);
    }
    bar?.done();
    process.stderr.write(`${summaryLine(model, summary)}\n`);
    return summary.failed > 0 ? 1 : 0;
  } finally {
    await model?.close().catch((err: unknown) => process.stderr.write(`edgefleet-agent batch: telemetry not kept: ${String(err)}\n`));
    await store.close();
  }
}
