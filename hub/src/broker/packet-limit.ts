// Enforces an MQTT packet-size cap before a packet is buffered whole (design §4):
// it follows the fixed headers (type byte + "remaining length" varint, MQTT 3.1.1 §2.2.3) as bytes
// pass and destroys the connection as soon as a header announces a packet over the limit.

import { Duplex } from 'node:stream';

/**
 * Incremental MQTT framing scanner: feed it bytes, it says when a packet is too large. The cap may be a
 * function, read at each header (a smaller cap before CONNACK, design §4).
 */
export function createPacketScanner(maxBytes: number | (() => number)) {
  const cap = typeof maxBytes === 'number' ? () => maxBytes : maxBytes;
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
          if (1 + lengthBytes + remaining > cap()) return false;
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
 * Enforce the cap on a connection (TCP socket or ws's createWebSocketStream) by wrapping its own `push`,
 * which both call for every inbound chunk: bytes are scanned before they reach the readable buffer, and
 * no second stream per connection is needed (memory per idle device, design §11). `admit`, when given,
 * sees each chunk's size first and cuts the connection by returning false (a byte budget).
 */
export function guardPacketSize<T extends Duplex>(
  stream: T,
  maxBytes: number | (() => number),
  onOversize: () => void,
  admit?: (bytes: number) => boolean,
): T {
  const scanner = createPacketScanner(maxBytes);
  const push = stream.push.bind(stream);
  let cut = false;
  stream.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
    if (chunk === null || chunk === undefined) return push(chunk, encoding);
    if (cut) return false;
    if (admit && !admit((chunk as Uint8Array).length)) {
      cut = true;
      stream.destroy();
      return false;
    }
    if (!scanner.feed(chunk as Uint8Array)) {
      cut = true;
      onOversize();
      stream.destroy();
      return false;
    }
    return push(chunk, encoding);
  };
  return stream;
}

/**
 * aedes writes each packet (every PUBACK) on its own; cork the connection for the rest of the tick so
 * what aedes writes in one tick leaves in one write (writev) instead of one syscall each.
 */
export function coalesceWrites<T extends Duplex>(stream: T): T {
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  let corked = false;
  const uncork = () => {
    corked = false;
    stream.uncork();
  };
  stream.write = ((...args: unknown[]) => {
    if (!corked) {
      corked = true;
      stream.cork();
      process.nextTick(uncork);
    }
    return write(...args);
  }) as T['write'];
  return stream;
}
