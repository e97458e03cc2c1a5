// A stream wrapper that enforces an MQTT packet-size cap before a packet is buffered whole (design §4):
// it follows the fixed headers (type byte + "remaining length" varint, MQTT 3.1.1 §2.2.3) as bytes
// pass and destroys the connection as soon as a header announces a packet over the limit.

import { Duplex } from 'node:stream';

/** Incremental MQTT framing scanner: feed it bytes, it says when a packet is too large. */
export function createPacketScanner(maxBytes: number) {
  // state: 0 = expecting type byte, 1 = reading remaining length, 2 = skipping body
  let state = 0;
  let remaining = 0;
  let multiplier = 1;
  let lengthBytes = 0;
  return {
    /** Returns false when the stream must be closed (oversized or malformed length). */
    feed(chunk: Uint8Array): boolean {
      let i = 0;
      while (i < chunk.length) {
        if (state === 0) {
          state = 1;
          remaining = 0;
          multiplier = 1;
          lengthBytes = 0;
          i++;
        } else if (state === 1) {
          const b = chunk[i++]!;
          remaining += (b & 0x7f) * multiplier;
          multiplier *= 128;
          lengthBytes++;
          if (b & 0x80) {
            if (lengthBytes >= 4) return false; // [MQTT-2.2.3] at most four length bytes
            continue;
          }
          if (1 + lengthBytes + remaining > maxBytes) return false;
          state = remaining === 0 ? 0 : 2;
        } else {
          const take = Math.min(remaining, chunk.length - i);
          remaining -= take;
          i += take;
          if (remaining === 0) state = 0;
        }
      }
      return true;
    },
  };
}

/**
 * Wrap a connection (TCP socket or WebSocket stream) so every inbound byte passes the scanner first.
 * `onOversize` runs once when a connection is cut.
 */
export function limitPacketSize(inner: Duplex, maxBytes: number, onOversize: () => void): Duplex {
  const scanner = createPacketScanner(maxBytes);
  let cut = false;
  const outer = new Duplex({
    read() {
      inner.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      if (inner.destroyed) return cb();
      inner.write(chunk, cb);
    },
    // aedes writes every PUBACK on its own: coalesce what queued up while the socket was busy into one write
    writev(chunks, cb) {
      if (inner.destroyed) return cb();
      inner.write(chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk as Buffer)), cb);
    },
    final(cb) {
      inner.end();
      cb();
    },
    destroy(err, cb) {
      inner.destroy();
      cb(err);
    },
  });
  inner.on('data', (chunk: Buffer) => {
    if (cut) return;
    if (!scanner.feed(chunk)) {
      cut = true;
      onOversize();
      inner.destroy();
      outer.destroy();
      return;
    }
    if (!outer.push(chunk)) inner.pause();
  });
  inner.on('end', () => outer.push(null));
  inner.on('close', () => outer.destroy());
  inner.on('error', () => outer.destroy());
  // aedes and mqtt-packet read these for logs and proxy handling
  const sock = inner as Duplex & { remoteAddress?: string; remotePort?: number };
  Object.assign(outer, { remoteAddress: sock.remoteAddress, remotePort: sock.remotePort });
  return outer;
}
