// The pure parts of batch inference (batch.ts): CSV fields as RFC 4180 quotes them, and which names a batch
// command may use inside its directory (design §4 command `batch`); and runBatch reading every row when its
// output is slow to open.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { csvFields } from './batch-rows.js';
import { resolveBatchFile, runBatch, type BatchModel } from './batch.js';

describe('csvFields', () => {
  it('splits plain and quoted fields, with doubled quotes and commas inside quotes', () => {
    expect(csvFields('1,2.5,,x')).toEqual(['1', '2.5', '', 'x']);
    expect(csvFields('"a,b","say ""hi""",3')).toEqual(['a,b', 'say "hi"', '3']);
    expect(csvFields('')).toEqual(['']);
  });
  it('refuses an unterminated quote and text after a closing quote with BAD_INPUT', () => {
    expect(() => csvFields('"open,1')).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
    expect(() => csvFields('"a"b,1')).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
  });
});

describe('resolveBatchFile', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ef-batch-dir-'));
  const dir = path.join(root, 'allowed');
  fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'sub', 'rows.jsonl'), '');
  fs.writeFileSync(path.join(root, 'secret.jsonl'), '');
  fs.symlinkSync(path.join(root, 'secret.jsonl'), path.join(dir, 'link.jsonl'));

  it('takes a name inside the directory, in a subdirectory too', () => {
    expect(resolveBatchFile(dir, 'sub/rows.jsonl')).toBe(fs.realpathSync(path.join(dir, 'sub', 'rows.jsonl')));
  });
  it('refuses absolute paths, climbing out and symlinks that lead out with FORBIDDEN; a missing file is NOT_FOUND', () => {
    for (const name of [path.join(root, 'secret.jsonl'), '../secret.jsonl', 'sub/../../secret.jsonl', 'link.jsonl', '.']) {
      expect(() => resolveBatchFile(dir, name), name).toThrow(expect.objectContaining({ code: 'FORBIDDEN' }));
    }
    expect(() => resolveBatchFile(dir, 'nope.jsonl')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
  });
});

describe('runBatch', () => {
  it('reads every row even when the output opens late (a FIFO as its temporary file blocks the open)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ef-batch-late-'));
    const input = path.join(dir, 'in.jsonl');
    fs.writeFileSync(input, '{"input":[1,2]}\n{"input":[3,4]}\n');
    const output = path.join(dir, 'out.jsonl');
    const tmp = `${output}.tmp-${process.pid}`;
    execFileSync('mkfifo', [tmp]);
    // the model answers the sum of its row, so the output shows which rows were read
    const model = {
      name: 'm',
      version: '1.0.0',
      manifest: { io: { inputs: [{ name: 'x', type: 'float32', shape: [1, 2] }], outputs: [{ name: 'y', type: 'float32', shape: [1] }] } },
      infer: async (req) => ({
        model_name: 'm',
        model_version: '1.0.0',
        outputs: [{ name: 'y', shape: [1], datatype: 'FP32', data: [(req.inputs[0]!.data as number[]).reduce((a, b) => a + b, 0)] }],
      }),
    } as unknown as BatchModel;
    const run = runBatch(model, { input, output });
    // the input is long read by the time the FIFO gets a reader and the output's open returns
    await new Promise((r) => setTimeout(r, 300));
    let text = '';
    fs.createReadStream(tmp).on('data', (d) => (text += d));
    const summary = await run;
    expect(summary.rows).toBe(2);
    expect(summary.failed).toBe(0);
    const rows = text.trim().split('\n').map((l) => JSON.parse(l) as { row: number; outputs: { data: number[] }[] });
    expect(rows.map((r) => [r.row, r.outputs[0]!.data[0]])).toEqual([[1, 3], [2, 7]]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
