// The pure parts of batch inference (batch.ts): CSV fields as RFC 4180 quotes them, and which names a batch
// command may use inside its directory (design §4 command `batch`).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { csvFields } from './batch-rows.js';
import { resolveBatchFile } from './batch.js';

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
