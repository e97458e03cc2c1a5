// A streaming multipart/form-data reader (RFC 7578) for model uploads (design §7): the file part goes to
// a temp file as it arrives, never into memory; the other parts are small text fields kept in memory
// under their own cap. Every cap is checked while the body streams, so an oversized upload is refused
// as soon as it passes the cap, and the temp file is removed on every failure.

import { randomBytes } from 'node:crypto';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { EdgefleetError } from '@edgefleet/protocol';

export interface UploadLimits {
  /** The whole body (file, fields and framing). */
  maxBytes: number;
  /** All non-file parts together. */
  maxFieldBytes: number;
  maxParts: number;
}

export interface ReceivedUpload {
  fields: Map<string, string>;
  /** The file part's temp file, or null when the form had none. */
  file: { path: string; size: number } | null;
  /** Removes the temp file (idempotent). */
  discard(): Promise<void>;
}

const MAX_HEADER_BYTES = 16 * 1024;

/** The boundary of a `multipart/form-data` content type (RFC 2046 §5.1.1: 1–70 characters). */
export function multipartBoundary(contentType: string | undefined): string {
  const m = contentType ? /^multipart\/form-data\s*;(?:.*;)?\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType) : null;
  const boundary = m?.[1] ?? m?.[2];
  if (!boundary) throw new EdgefleetError('BAD_INPUT', 'body must be multipart/form-data with a boundary');
  return boundary;
}

function partName(headers: string): { name: string; filename: string | null } {
  for (const line of headers.split('\r\n')) {
    const i = line.indexOf(':');
    if (i < 0 || line.slice(0, i).trim().toLowerCase() !== 'content-disposition') continue;
    const value = line.slice(i + 1);
    const name = /(?:^|;)\s*name="([^"]*)"/i.exec(value)?.[1] ?? /(?:^|;)\s*name=([^;\s]+)/i.exec(value)?.[1];
    const filename = /(?:^|;)\s*filename="([^"]*)"/i.exec(value)?.[1] ?? null;
    if (name === undefined) break;
    return { name, filename };
  }
  throw new EdgefleetError('BAD_INPUT', 'a multipart part has no content-disposition name');
}

/**
 * Reads a multipart body, writing the part named `fileField` to a new file in `dir`.
 * Throws TOO_LARGE past a cap and BAD_INPUT on malformed framing; the temp file is gone then.
 */
export async function receiveUpload(
  body: ReadableStream<Uint8Array>,
  boundary: string,
  options: { dir: string; fileField: string; limits: UploadLimits },
): Promise<ReceivedUpload> {
  const { limits } = options;
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  const fields = new Map<string, string>();
  const path = join(options.dir, `${Date.now()}-${randomBytes(6).toString('hex')}.upload`);
  let fh = null as FileHandle | null;
  let fileSize = 0;
  let hadFile = false;
  const discard = async () => {
    await fh?.close().catch(() => undefined);
    fh = null;
    await rm(path, { force: true });
  };

  // the body as if it began with CRLF, so the first delimiter looks like every other one
  let buf: Buffer = Buffer.from('\r\n');
  let total = 0;
  let fieldBytes = 0;
  let parts = 0;
  type State = 'preamble' | 'after-delimiter' | 'headers' | 'data' | 'done';
  let state = 'preamble' as State;
  let current: { name: string; file: boolean; chunks: Buffer[] } | null = null;

  const emit = async (data: Buffer): Promise<void> => {
    if (!current || data.length === 0) return;
    if (current.file) {
      fileSize += data.length;
      try {
        await fh!.write(data);
      } catch (err) {
        if ((err as { code?: string }).code === 'ENOSPC') throw new EdgefleetError('DISK_FULL', 'no space left in the data dir for the upload', { cause: err });
        throw err;
      }
    } else {
      fieldBytes += data.length;
      if (fieldBytes > limits.maxFieldBytes) throw new EdgefleetError('TOO_LARGE', `form fields over ${limits.maxFieldBytes} bytes`);
      current.chunks.push(data);
    }
  };
  const endPart = async (): Promise<void> => {
    if (!current) return;
    if (!current.file) fields.set(current.name, Buffer.concat(current.chunks).toString('utf8'));
    current = null;
  };

  const step = async (): Promise<boolean> => {
    switch (state) {
      case 'preamble': {
        const i = buf.indexOf(delimiter);
        if (i < 0) {
          buf = buf.subarray(Math.max(0, buf.length - delimiter.length + 1));
          return false;
        }
        buf = buf.subarray(i + delimiter.length);
        state = 'after-delimiter';
        return true;
      }
      case 'after-delimiter': {
        if (buf.length < 2) return false;
        if (buf[0] === 0x2d && buf[1] === 0x2d) {
          state = 'done';
          return false;
        }
        const eol = buf.indexOf('\r\n');
        if (eol < 0) {
          if (buf.length > 256) throw new EdgefleetError('BAD_INPUT', 'malformed multipart delimiter line');
          return false;
        }
        if (buf.subarray(0, eol).toString('latin1').trim() !== '') throw new EdgefleetError('BAD_INPUT', 'malformed multipart delimiter line');
        buf = buf.subarray(eol + 2);
        state = 'headers';
        return true;
      }
      case 'headers': {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) {
          if (buf.length > MAX_HEADER_BYTES) throw new EdgefleetError('BAD_INPUT', 'multipart part headers too long');
          return false;
        }
        if (++parts > limits.maxParts) throw new EdgefleetError('BAD_INPUT', `more than ${limits.maxParts} multipart parts`);
        const { name } = partName(buf.subarray(0, end).toString('utf8'));
        const file = name === options.fileField;
        if (file ? hadFile : fields.has(name)) throw new EdgefleetError('BAD_INPUT', `multipart field "${name}" appears twice`);
        if (file) {
          hadFile = true;
          fh = await open(path, 'wx', 0o600);
        }
        current = { name, file, chunks: [] };
        buf = buf.subarray(end + 4);
        state = 'data';
        return true;
      }
      case 'data': {
        const i = buf.indexOf(delimiter);
        if (i < 0) {
          // keep a tail that could be the start of a delimiter split across chunks
          const keep = Math.min(buf.length, delimiter.length - 1);
          await emit(buf.subarray(0, buf.length - keep));
          buf = Buffer.from(buf.subarray(buf.length - keep));
          return false;
        }
        await emit(buf.subarray(0, i));
        await endPart();
        buf = buf.subarray(i + delimiter.length);
        state = 'after-delimiter';
        return true;
      }
      case 'done':
        return false;
    }
  };

  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      // refused here: what is still in flight is drained without being kept (node-server), never buffered
      if (total > limits.maxBytes) throw new EdgefleetError('TOO_LARGE', `model upload over ${limits.maxBytes} bytes`);
      if (state === 'done') continue; // epilogue: ignored (RFC 2046 §5.1.1)
      buf = buf.length ? Buffer.concat([buf, value]) : Buffer.from(value);
      while (await step()) {
        // each step consumes what it can
      }
    }
    if (state !== 'done') throw new EdgefleetError('BAD_INPUT', 'multipart body ends before its closing delimiter');
    await fh?.close();
    fh = null;
  } catch (err) {
    await discard();
    throw err;
  }
  return { fields, file: hadFile ? { path, size: fileSize } : null, discard };
}
