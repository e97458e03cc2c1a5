// A raw HTTP/1.1 client for body-limit tests: streams a chunked request body generated lazily (one
// reused buffer, never the whole body in memory) and records how much of it was written when the
// server's response began. fetch cannot tell that apart, and it hides resets after a response.

import { connect } from 'node:net';

export interface StreamedResponse {
  status: number;
  headers: Record<string, string>;
  body: any;
  /** Body bytes the client had written when the first response byte arrived. */
  sentBeforeResponse: number;
  /** Whether the whole body (and the last chunk) was written. */
  finished: boolean;
}

export interface StreamedRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  /** Bytes sent first (e.g. a multipart part header). */
  prefix?: Uint8Array;
  /** Filler bytes after the prefix. */
  total: number;
}

const FILL = Buffer.alloc(256 * 1024, 0x78);

export function streamRequest(base: string, req: StreamedRequest): Promise<StreamedResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    let sent = 0;
    let sentBeforeResponse = -1;
    let finished = false;
    let settled = false;
    let raw = Buffer.alloc(0);
    const done = (err: Error | null, res?: StreamedResponse) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (err) reject(err);
      else resolve(res!);
    };
    const tryParse = () => {
      const end = raw.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [statusLine, ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      const length = Number(headers['content-length'] ?? 'NaN');
      if (!Number.isFinite(length)) return done(new Error(`response without content-length: ${statusLine}`));
      if (raw.length < end + 4 + length) return;
      const text = raw.subarray(end + 4, end + 4 + length).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      done(null, { status: Number(statusLine!.split(' ')[1]), headers, body, sentBeforeResponse, finished });
    };
    socket.on('data', (d: Buffer) => {
      if (sentBeforeResponse < 0) sentBeforeResponse = sent;
      raw = Buffer.concat([raw, d]);
      tryParse();
    });
    // after the response the server may reset the connection: that is the point, not a failure
    socket.on('error', (err) => (sentBeforeResponse < 0 ? done(err) : tryParse()));
    socket.on('close', () => done(new Error(`connection closed after ${sent} body bytes without a complete response`)));
    socket.on('connect', () => {
      const head = [
        `${req.method ?? 'POST'} ${req.path} HTTP/1.1`,
        `host: ${url.host}`,
        'transfer-encoding: chunked',
        ...Object.entries(req.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
        '',
        '',
      ].join('\r\n');
      socket.write(head);
      const chunk = (b: Uint8Array): boolean => {
        socket.write(`${b.length.toString(16)}\r\n`);
        socket.write(b);
        sent += b.length;
        return socket.write('\r\n');
      };
      if (req.prefix?.length) chunk(req.prefix);
      let left = req.total;
      const pump = () => {
        while (left > 0 && !settled && sentBeforeResponse < 0) {
          const n = Math.min(left, FILL.length);
          left -= n;
          if (!chunk(FILL.subarray(0, n))) return void socket.once('drain', pump);
        }
        if (left === 0 && !settled && !finished) {
          finished = true;
          socket.write('0\r\n\r\n');
        }
      };
      pump();
    });
  });
}

/** A multipart body's opening: text fields, then the header of the `file` part (whose bytes follow). */
export function multipartHead(boundary: string, fields: Record<string, string>): Uint8Array {
  return new TextEncoder().encode(
    Object.entries(fields)
      .map(([k, v]) => `--${boundary}\r\ncontent-disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
      .join('') + `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="m.onnx"\r\ncontent-type: application/octet-stream\r\n\r\n`,
  );
}
