// Binary artifact chunk frames (design §4 `artifact/data`): "EFC1" · sha256 (32 bytes) · index u32 BE · chunk bytes.
// Binary, not JSON+base64, so a chunk costs 40 bytes of overhead instead of a third more.

import { EdgefleetError, fail, ok, type Result } from './errors.js';
import { fromHex, toHex } from './encoding.js';
import { LIMITS } from './limits.js';

export const CHUNK_FRAME_MAGIC = 'EFC1';
/** Bytes before the chunk data: magic (4) + sha256 (32) + index (4). */
export const CHUNK_FRAME_HEADER_BYTES = 40;

const MAGIC = [0x45, 0x46, 0x43, 0x31]; // "EFC1"
const SHA256_PATTERN = /^[0-9a-f]{64}$/;

export interface ChunkFrame {
  /** Artifact sha256, lowercase hex. */
  sha256: string;
  index: number;
  data: Uint8Array;
}

export function encodeChunkFrame(sha256Hex: string, index: number, bytes: Uint8Array): Uint8Array {
  if (!SHA256_PATTERN.test(sha256Hex)) throw new EdgefleetError('BAD_INPUT', 'chunk frame sha256 must be 64 lowercase hex chars');
  if (!Number.isInteger(index) || index < 0 || index > 0xffffffff) {
    throw new EdgefleetError('BAD_INPUT', `chunk index ${index} is not a u32`);
  }
  if (bytes.length > LIMITS.chunkBytes) throw new EdgefleetError('TOO_LARGE', `chunk of ${bytes.length} bytes exceeds ${LIMITS.chunkBytes}`);
  const frame = new Uint8Array(CHUNK_FRAME_HEADER_BYTES + bytes.length);
  frame.set(MAGIC, 0);
  frame.set(fromHex(sha256Hex), 4);
  new DataView(frame.buffer, frame.byteOffset, frame.byteLength).setUint32(36, index, false);
  frame.set(bytes, CHUNK_FRAME_HEADER_BYTES);
  return frame;
}

/**
 * Decode a frame from the wire. `data` is a view into `bytes` (no copy); copy it if `bytes` is reused.
 * A frame without chunk bytes, with the wrong magic or over the chunk cap is refused. A frame cut
 * inside its data cannot be told from a short last chunk here: the artifact's length and sha256 catch it.
 */
export function decodeChunkFrame(bytes: Uint8Array): Result<ChunkFrame> {
  if (bytes.length > CHUNK_FRAME_HEADER_BYTES + LIMITS.chunkBytes) {
    return fail('TOO_LARGE', `chunk frame of ${bytes.length} bytes exceeds the ${LIMITS.chunkBytes}-byte chunk cap`);
  }
  if (bytes.length <= CHUNK_FRAME_HEADER_BYTES) {
    return fail('BAD_MESSAGE', `chunk frame of ${bytes.length} bytes is truncated (header is ${CHUNK_FRAME_HEADER_BYTES})`);
  }
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) return fail('BAD_MESSAGE', 'chunk frame does not start with "EFC1"');
  }
  const index = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(36, false);
  return ok({
    sha256: toHex(bytes.subarray(4, 36)),
    index,
    data: bytes.subarray(CHUNK_FRAME_HEADER_BYTES),
  });
}
