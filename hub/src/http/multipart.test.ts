import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { multipartBoundary, receiveUpload } from './multipart.js';

const limits = { maxBytes: 1 << 20, maxFieldBytes: 1 << 16, maxParts: 8 };

function streamOf(bytes: Uint8Array, chunk: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.subarray(at, at + chunk));
      at += chunk;
    },
  });
}

async function formBytes(form: FormData): Promise<{ bytes: Uint8Array; type: string }> {
  const r = new Response(form);
  return { bytes: new Uint8Array(await r.arrayBuffer()), type: r.headers.get('content-type')! };
}

describe('streaming multipart reader', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'edgefleet-mp-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the file part to disk and keeps fields, whatever the chunking (delimiters split anywhere)', async () => {
    const file = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7) % 256);
    file.set(new TextEncoder().encode('\r\n--not-the-boundary\r\n'), 100); // delimiter-like bytes inside the file
    const form = new FormData();
    form.set('name', 'tiny');
    form.set('file', new Blob([file]), 'm.onnx');
    form.set('validation', new Blob(['{"a":1}\n{"a":2}\n']), 'v.jsonl');
    const { bytes, type } = await formBytes(form);
    for (const chunk of [1, 2, 3, 7, 64, 4096, bytes.length]) {
      const up = await receiveUpload(streamOf(bytes, chunk), multipartBoundary(type), { dir, fileField: 'file', limits });
      expect(Object.fromEntries(up.fields)).toEqual({ name: 'tiny', validation: '{"a":1}\n{"a":2}\n' });
      expect(up.file!.size).toBe(file.length);
      expect(new Uint8Array(readFileSync(up.file!.path))).toEqual(file);
      await up.discard();
      expect(readdirSync(dir)).toEqual([]);
    }
  });

  it('refuses past the body cap, the field cap, a duplicate field and a missing closing delimiter, leaving no file', async () => {
    const big = new FormData();
    big.set('file', new Blob([new Uint8Array(limits.maxBytes + 1)]), 'm.onnx');
    const fields = new FormData();
    fields.set('validation', 'x'.repeat(limits.maxFieldBytes + 1));
    const dup = new FormData();
    dup.append('name', 'a');
    dup.append('name', 'b');
    for (const [form, code] of [[big, 'TOO_LARGE'], [fields, 'TOO_LARGE'], [dup, 'BAD_INPUT']] as const) {
      const { bytes, type } = await formBytes(form);
      await expect(receiveUpload(streamOf(bytes, 1000), multipartBoundary(type), { dir, fileField: 'file', limits })).rejects.toMatchObject({ code });
      expect(readdirSync(dir)).toEqual([]);
    }
    const cut = new FormData();
    cut.set('file', new Blob([new Uint8Array(100)]), 'm.onnx');
    const { bytes, type } = await formBytes(cut);
    await expect(receiveUpload(streamOf(bytes.subarray(0, bytes.length - 10), 50), multipartBoundary(type), { dir, fileField: 'file', limits })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    expect(readdirSync(dir)).toEqual([]);
    expect(() => multipartBoundary('application/json')).toThrow(/multipart/);
  });
});
