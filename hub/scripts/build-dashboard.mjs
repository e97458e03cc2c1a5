// Bundles the dashboard's browser client (hub/src/dashboard/client/*.ts, typechecked by its own
// tsconfig in `tsc -b`) into one script, hub/dist/dashboard/client.js, that the hub serves as
// /dashboard/app.js. Run by `npm run build` (and so by `npm install` / `npm ci`); vitest runs it
// too, as a globalSetup, so tests that import the hub from source serve the client as its source is now.

import { build } from 'esbuild';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const HUB = fileURLToPath(new URL('..', import.meta.url));
const CLIENT = resolve(HUB, 'src/dashboard/client');
export const OUTFILE = resolve(HUB, 'dist/dashboard/client.js');
/** npm packages the client may bundle: uqr draws the enrolment link's QR code. */
const BROWSER_DEPS = ['uqr'];

/** Builds the bundle; refuses one that took in anything but the client's own files. */
export async function buildDashboard() {
  const result = await build({
    entryPoints: [resolve(CLIENT, 'index.ts')],
    tsconfig: resolve(CLIENT, 'tsconfig.json'),
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    metafile: true,
    write: false,
    outfile: OUTFILE,
    logLevel: 'warning',
  });
  // type imports of protocol and the hub's rooms are erased; any other input would be hub code in the browser
  // (or a dependency nobody chose: the page may bundle only the packages in BROWSER_DEPS)
  const allowed = [CLIENT, ...BROWSER_DEPS.map((d) => dirname(createRequire(import.meta.url).resolve(d)))];
  const foreign = Object.keys(result.metafile.inputs).filter((f) => !allowed.some((dir) => resolve(f).startsWith(dir + sep)));
  if (foreign.length) throw new Error(`dashboard client bundles files outside ${relative(process.cwd(), CLIENT)}: ${foreign.join(', ')}`);
  const [out] = result.outputFiles;
  await mkdir(dirname(OUTFILE), { recursive: true });
  // write then rename: a hub reading the file never sees half of it
  const tmp = `${OUTFILE}.${process.pid}.tmp`;
  await writeFile(tmp, out.contents);
  await rename(tmp, OUTFILE);
  return { file: OUTFILE, bytes: out.contents.byteLength };
}

/** vitest globalSetup. */
export async function setup() {
  await buildDashboard();
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { file, bytes } = await buildDashboard();
  console.log(`dashboard client: ${relative(process.cwd(), file)} (${(bytes / 1024).toFixed(1)} KiB)`);
}
