// Model commands (design §2, §7): push (a streamed multipart upload with a progress bar) and ls.

import { createReadStream, readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { EdgefleetError, type FeatureImportance } from '@edgefleet/protocol';
import type { ModelDetail, ModelList, PushResult } from './api.js';
import type { CommandSpec, Values } from './args.js';
import { createClient } from './client.js';
import { fmt, json, out, table } from './format.js';

function readText(path: string | undefined, what: string): string | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new EdgefleetError('NOT_FOUND', `cannot read ${what} ${path}`, { cause: err });
  }
}

/** Stream a multipart upload so the progress bar follows bytes actually sent. */
async function modelPush(file: string, v: Values): Promise<void> {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (err) {
    throw new EdgefleetError('NOT_FOUND', `no such file ${file}`, { cause: err });
  }
  const fields: Array<[string, string]> = [
    ['name', v.name!],
    ['version', v.version!],
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
  const total = head.length + size + tail.length;
  const tty = process.stderr.isTTY;
  let lastDraw = 0;
  const draw = (sent: number, force = false) => {
    const now = Date.now();
    if (!force && now - lastDraw < 100) return;
    lastDraw = now;
    const frac = total === 0 ? 1 : sent / total;
    const width = 30;
    const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
    const line = `upload [${bar}] ${(frac * 100).toFixed(0).padStart(3)}% ${(sent / 1048576).toFixed(1)}/${(total / 1048576).toFixed(1)} MiB`;
    process.stderr.write(tty ? `\r${line}` : force ? `${line}\n` : '');
  };
  async function* body(): AsyncGenerator<Uint8Array> {
    yield head;
    for await (const chunk of createReadStream(file, { highWaterMark: 256 * 1024 })) yield chunk as Buffer;
    yield tail;
  }
  const r = await createClient(v).upload<PushResult>(
    '/models',
    `multipart/form-data; boundary=${boundary}`,
    total,
    body(),
    (sent) => {
      draw(sent, sent === total);
      if (sent === total) {
        if (tty) process.stderr.write('\n');
        process.stderr.write('validating and signing on the hub…\n');
      }
    },
  );
  if (v.json) return json(r);
  out(`pushed ${r.model}@${r.version} release ${r.release} sha256 ${r.sha256}\n`);
  const metrics = r.manifest.lineage?.metrics;
  if (metrics && Object.keys(metrics).length) out(`  metrics ${Object.entries(metrics).map(([k, n]) => `${k}=${fmt(n, 4)}`).join(' ')}\n`);
  const imp = r.manifest.lineage?.importance;
  if (imp) out(`  importance ${byShare(imp).slice(0, 5).map((f) => `${f.name} ${percent(f.share)}`).join(', ')}\n`);
}

const percent = (share: number) => `${Math.round(share * 100)} %`;
const byShare = (imp: FeatureImportance) => imp.features.slice().sort((a, b) => b.share - a.share);
const METRIC_TEXT: Record<FeatureImportance['metric'], string> = { accuracy: 'accuracy drop', 'prediction-change': 'predictions changed', 'squared-change': 'squared change' };

/** A version's importance as "feature — bar — share", largest first (the dashboard's model page shows the same). */
export function importanceText(label: string, imp: FeatureImportance): string {
  const width = Math.max(...imp.features.map((f) => f.name.length));
  const lines = byShare(imp).map((f) => `  ${f.name.padEnd(width)}  ${'█'.repeat(Math.round(f.share * 20)).padEnd(20, '·')}  ${percent(f.share).padStart(5)}`);
  return `\nfeature importance of ${label} (permutation, ${METRIC_TEXT[imp.metric]}, ${imp.rows} rows × ${imp.repeats} shuffles)\n${lines.join('\n')}\n`;
}

async function modelLs(name: string | undefined, v: Values): Promise<void> {
  const c = createClient(v);
  const one = name ? await c.request<ModelDetail>('GET', `/models/${encodeURIComponent(name)}`) : undefined;
  if (one && v.json) return json(one);
  const res: ModelList = one ? { models: [one] } : await c.request<ModelList>('GET', '/models');
  if (v.json) return json(res);
  const rows = [['MODEL', 'VERSION', 'RELEASE', 'SIZE', 'SHA256', 'CREATED']];
  for (const m of res.models) for (const ver of m.versions) rows.push([m.name, ver.version, String(ver.release), String(ver.size), ver.sha256.slice(0, 12), ver.createdAt]);
  out(table(rows));
  // one model: what each version relies on, newest first
  for (const ver of one ? one.versions.slice().reverse() : []) {
    const imp = ver.manifest.lineage?.importance;
    if (imp) out(importanceText(`${one!.name}@${ver.version}`, imp));
  }
}

export const MODEL_COMMANDS: CommandSpec[] = [
  {
    words: ['model', 'push'],
    summary: 'Push a model version: the hub loads it in onnxruntime, self-tests, validates and signs it.',
    positionals: [{ name: 'FILE' }],
    options: ['name', 'version', 'sample', 'validation', 'reference', 'min-accuracy', 'labels', 'dataset', 'run', 'commit', 'url'],
    required: ['name', 'version'],
    client: true,
    run: (pos, v) => modelPush(pos[0]!, v),
  },
  {
    words: ['model', 'ls'],
    aliases: [['model', 'list']],
    summary: 'List models and their versions, or one model’s.',
    positionals: [{ name: 'NAME', optional: true }],
    client: true,
    run: (pos, v) => modelLs(pos[0], v),
  },
];
