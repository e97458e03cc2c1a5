// Captured field data (design §2 `edgefleet data`, §4 capture): what the hub holds per model version, and
// exports as JSON Lines whose sha256 the hub records (lineage for `model push --dataset SHA`) and audits.

import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { EdgefleetError, parseDuration } from '@edgefleet/protocol';
import type { DatasetExportBody, DatasetListBody } from './api.js';
import { usageError, type CommandSpec, type Values } from './args.js';
import { createClient } from './client.js';
import { parseTags } from './commands-devices.js';
import { json, out, table } from './format.js';

const USAGE = 'usage: edgefleet data export NAME@VERSION [--since D] [--tag k=v]... [--labelled] --out FILE';

/** `--since`: a duration back from now (30m, 7d) or a date (2026-01-31, ISO 8601) → epoch ms. */
export function parseSince(text: string, now = Date.now()): number {
  const ms = parseDuration(text, { unitRequired: true });
  if (ms !== null) return Math.floor(now - ms);
  const t = Date.parse(text);
  if (/^\d{4}-\d{2}-\d{2}/.test(text) && Number.isFinite(t)) return t;
  throw usageError(`--since must be a duration (30m, 7d) or a date (2026-01-31), got ${JSON.stringify(text)}`);
}

export function splitSpec(spec: string | undefined, usage = USAGE): { model: string; version: string } {
  const at = spec?.lastIndexOf('@') ?? -1;
  if (!spec || at <= 0 || at === spec.length - 1) throw usageError(usage);
  return { model: spec.slice(0, at), version: spec.slice(at + 1) };
}

async function dataExport(spec: string | undefined, v: Values): Promise<void> {
  const { model, version } = splitSpec(spec);
  const body: DatasetExportBody = {
    ...(v.since ? { since: parseSince(v.since) } : {}),
    ...(v.tag?.length ? { tag: v.tag } : {}),
    ...(v.labelled ? { labelled: true } : {}),
  };
  const res = await createClient(v).requestText('POST', `/datasets/${encodeURIComponent(model)}/${encodeURIComponent(version)}/export`, body);
  writeFileSync(v.out!, res.text);
  // the hash of the file as written, checked against what the hub recorded for it
  const sha256 = createHash('sha256').update(res.text).digest('hex');
  if (sha256 !== res.headers.get('x-dataset-sha256')) throw new EdgefleetError('HASH_MISMATCH', `the export's sha256 ${sha256} is not the one the hub recorded (${res.headers.get('x-dataset-sha256')})`);
  const rows = Number(res.headers.get('x-dataset-rows') ?? 0);
  if (v.json) return json({ model, version, rows, bytes: Buffer.byteLength(res.text), sha256, file: v.out });
  out(`${rows} rows of ${model}@${version} → ${v.out}\nsha256 ${sha256}\n`);
}

export const DATA_COMMANDS: readonly CommandSpec[] = [
  {
    words: ['data', 'ls'],
    aliases: [['data'], ['data', 'list']],
    summary: 'Captured field data per model version (rows, labelled, bytes, time range) and recent exports.',
    client: true,
    run: async (_pos, v) => {
      const res = await createClient(v).request<DatasetListBody>('GET', '/datasets');
      if (v.json) return json(res);
      out(table([['MODEL', 'VERSION', 'ROWS', 'LABELLED', 'BYTES', 'FIRST', 'LAST'], ...res.datasets.map((d) => [d.model, d.version, String(d.rows), String(d.labelled), String(d.bytes), d.first ?? '-', d.last ?? '-'])]));
      if (res.exports.length) {
        out('\nexports\n');
        out(table([['SHA256', 'MODEL', 'VERSION', 'ROWS', 'AT', 'BY'], ...res.exports.map((e) => [e.sha256, e.model, e.version, String(e.rows), e.at, e.actor])]));
      }
    },
  },
  {
    words: ['data', 'export'],
    summary: 'Export captured rows of a model version as JSON Lines; prints the file’s sha256 (recorded and audited by the hub).',
    positionals: [{ name: 'NAME@VERSION' }],
    options: ['since', 'tag', 'labelled', 'out'],
    required: ['out'],
    values: { since: 'D' },
    notes: '  --since takes a duration back from now (7d) or a date (2026-01-31).',
    client: true,
    check: (v, pos) => {
      splitSpec(pos[0]);
      parseTags(v.tag);
      if (v.since) parseSince(v.since);
    },
    run: (pos, v) => dataExport(pos[0], v),
  },
];
