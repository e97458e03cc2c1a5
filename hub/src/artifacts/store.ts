// Content-addressed artifact files (design §7): stored once by sha256, written atomically, read by range
// through a small cache of open files.

import { existsSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { EdgefleetError, sha256Hex } from '@edgefleet/protocol';

const SHA_RE = /^[0-9a-f]{64}$/;

export interface ArtifactStore {
  dir: string;
  put(bytes: Uint8Array): { sha256: string; size: number };
  path(sha256: string): string;
  has(sha256: string): boolean;
  size(sha256: string): number;
  read(sha256: string, offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

export function createArtifactStore(dir: string): ArtifactStore {
  mkdirSync(dir, { recursive: true });
  const handles = new Map<string, Promise<FileHandle>>();
  const path = (sha: string) => {
    if (!SHA_RE.test(sha)) throw new EdgefleetError('BAD_INPUT', 'artifact id must be a sha256 hex digest');
    return join(dir, sha);
  };
  const handle = (sha: string): Promise<FileHandle> => {
    let h = handles.get(sha);
    if (!h) {
      // a small cache of open files: fanning one model out to many devices reads the same file
      if (handles.size >= 32) {
        const [oldest, p] = handles.entries().next().value as [string, Promise<FileHandle>];
        handles.delete(oldest);
        void p.then((fh) => fh.close()).catch(() => undefined);
      }
      h = open(path(sha), 'r');
      handles.set(sha, h);
      h.catch(() => handles.delete(sha));
    }
    return h;
  };
  return {
    dir,
    put(bytes) {
      const sha256 = sha256Hex(bytes);
      const file = path(sha256);
      if (!existsSync(file)) {
        const tmp = `${file}.tmp-${process.pid}`;
        writeFileSync(tmp, bytes);
        renameSync(tmp, file); // atomic: a reader never sees a partial artifact
      }
      return { sha256, size: bytes.length };
    },
    path,
    has: (sha) => SHA_RE.test(sha) && existsSync(join(dir, sha)),
    size: (sha) => statSync(path(sha)).size,
    async read(sha, offset, length) {
      const fh = await handle(sha);
      const buf = Buffer.allocUnsafe(length);
      const { bytesRead } = await fh.read(buf, 0, length, offset);
      return buf.subarray(0, bytesRead);
    },
    async close() {
      const all = [...handles.values()];
      handles.clear();
      await Promise.all(all.map((p) => p.then((fh) => fh.close()).catch(() => undefined)));
    },
  };
}
