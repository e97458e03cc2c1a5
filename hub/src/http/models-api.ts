// POST /api/v1/models (design §7 model push): the guard has already authorized the caller from headers
// alone; the multipart body then streams to a temp file in the data dir (never a whole-body buffer),
// capped while it streams, and the pushed model is read from that file.

import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EdgefleetError } from '@edgefleet/protocol';
import type { ModelRegistry } from '../models/registry.js';
import { pushOptionsFromFields } from '../models/index.js';
import type { RouteHandler } from './api-routes.js';
import type { RouteDoc } from './route-doc.js';
import { checkDeclaredLength } from './guard.js';
import { ModelPushed } from './schemas.js';
import { multipartBoundary, receiveUpload } from './multipart.js';

export const MODEL_PUSH_DOC = {
  method: 'post',
  path: '/models',
  summary: 'Push a model version (validated, self-tested, signed)',
  role: 'operator',
  multipart: {
    file: 'the ONNX model',
    name: 'model name',
    version: 'semver',
    sample: 'one OIP inference request (JSON)',
    validation: 'JSONL: {"inputs": {...}, "label": ...} per line',
    reference: 'drift reference (JSON)',
    minAccuracy: 'refuse below this validation accuracy (0..1)',
    labels: 'JSON array of class names',
    dataset: 'lineage: dataset id',
    run: 'lineage: training run',
    commit: 'lineage: git commit',
    urls: 'JSON array of mirror URLs serving the same bytes with HTTP range requests (a CDN)',
  },
  responses: { 201: ModelPushed, 422: { description: 'INVALID_MODEL / NOT_ONNX / MODEL_LOAD_FAILED / SELF_TEST_FAILED / VALIDATION_FAILED: the model was refused' } },
} as const satisfies RouteDoc;

export interface ModelPushOptions {
  models: ModelRegistry;
  dataDir: string;
  /** Cap of the whole upload (default 1 GiB). */
  maxModelBytes?: number;
  /** Cap of the text fields together (validation, sample, reference…; default 256 MiB). */
  maxFieldBytes?: number;
}

/** Where uploads stream to; what a crash left there is removed at start. */
export function uploadsDir(dataDir: string): string {
  const dir = join(dataDir, 'uploads');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const f of readdirSync(dir)) if (f.endsWith('.upload')) rmSync(join(dir, f), { force: true });
  return dir;
}

/** The handler of MODEL_PUSH_DOC. */
export function modelPush(options: ModelPushOptions): RouteHandler<typeof MODEL_PUSH_DOC> {
  const { models } = options;
  const maxBytes = options.maxModelBytes ?? 1024 * 1024 * 1024;
  const maxFieldBytes = Math.min(options.maxFieldBytes ?? 256 * 1024 * 1024, maxBytes);
  const dir = uploadsDir(options.dataDir);

  return async (c, io) => {
    const p = c.get('principal');
    const boundary = multipartBoundary(c.req.header('content-type'));
    checkDeclaredLength(c, maxBytes);
    if (!c.req.raw.body) throw new EdgefleetError('BAD_INPUT', 'multipart field "file" (the ONNX model) is required');
    const upload = await receiveUpload(c.req.raw.body, boundary, { dir, fileField: 'file', limits: { maxBytes, maxFieldBytes, maxParts: 32 } });
    try {
      if (!upload.file) throw new EdgefleetError('BAD_INPUT', 'multipart field "file" (the ONNX model) is required');
      const pushOptions = pushOptionsFromFields(upload.fields); // before the model is read
      const bytes = new Uint8Array(await readFile(upload.file.path));
      await upload.discard();
      const res = await models.push(bytes, pushOptions, `${p.kind}:${p.id}`);
      return io.json(201, res);
    } finally {
      await upload.discard();
    }
  };
}
