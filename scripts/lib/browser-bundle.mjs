// The build steps the hub's dashboard (hub/scripts/build-dashboard.mjs) and the device page
// (web-runtime/scripts/build.mjs) share: esbuild's options for a minified browser bundle kept in memory,
// raw and gzipped sizes, and writes a process serving the old output never sees half of. Plain JavaScript
// run by node during `npm run build`, before anything is compiled; no package depends on it at run time.

import { build } from 'esbuild';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';

/** esbuild with the options every browser bundle here takes (es2022, minified, no legal comments, not written). */
export function bundleForBrowser(options) {
  return build({ bundle: true, platform: 'browser', target: 'es2022', minify: true, legalComments: 'none', write: false, logLevel: 'warning', ...options });
}

/** Raw and gzip -9 bytes of a built file. */
export function sizeOf(file, bytes) {
  return { file, bytes: bytes.byteLength, gzip: gzipSync(bytes, { level: 9 }).byteLength };
}

export const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;

/** One line per file: raw and gzipped KiB. */
export function sizeLines(sizes, width = 52) {
  return sizes.map((s) => `  ${s.file.padEnd(width)} ${kib(s.bytes).padStart(12)} ${kib(s.gzip).padStart(12)} gz`);
}

/** Write then rename: a reader of `file` sees the old bytes or the new, never half of them. */
export async function writeFileAtomic(file, bytes) {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, bytes);
  await rename(tmp, file);
}

/** Write `files` (path relative to `dir` → bytes) into a sibling directory, then swap it in for `dir`. */
export async function writeDirAtomic(dir, files) {
  const tmp = `${dir}.${process.pid}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  for (const [rel, bytes] of files) {
    await mkdir(dirname(join(tmp, rel)), { recursive: true });
    await writeFile(join(tmp, rel), bytes);
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(dirname(dir), { recursive: true });
  await rename(tmp, dir);
}
