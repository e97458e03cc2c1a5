// Bundles the dashboard's browser client (hub/src/dashboard/client/*.ts, typechecked by its own
// tsconfig in `tsc -b`) into one script, hub/dist/dashboard/client.js, that the hub serves as
// /dashboard/app.js. Run by `npm run build` (and so by `npm install` / `npm ci`); vitest runs it
// too, as a globalSetup, so tests that import the hub from source serve the client as its source is now.

import { createRequire } from 'node:module';
import { dirname, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleForBrowser, sizeLines, sizeOf, writeFileAtomic } from '../../scripts/lib/browser-bundle.mjs';

const HUB = fileURLToPath(new URL('..', import.meta.url));
const CLIENT = resolve(HUB, 'src/dashboard/client');
export const OUTFILE = resolve(HUB, 'dist/dashboard/client.js');
/** npm packages the client may bundle: uqr draws the enrolment link's QR code. */
const BROWSER_DEPS = ['uqr'];

/** Builds the bundle; refuses one that took in anything but the client's own files. */
export async function buildDashboard() {
  const result = await bundleForBrowser({
    entryPoints: [resolve(CLIENT, 'index.ts')],
    tsconfig: resolve(CLIENT, 'tsconfig.json'),
    format: 'iife',
    metafile: true,
    outfile: OUTFILE,
  });
  // type imports of protocol and the hub's rooms are erased; any other input would be hub code in the browser
  // (or a dependency nobody chose: the page may bundle only the packages in BROWSER_DEPS)
  const allowed = [CLIENT, ...BROWSER_DEPS.map((d) => dirname(createRequire(import.meta.url).resolve(d)))];
  const foreign = Object.keys(result.metafile.inputs).filter((f) => !allowed.some((dir) => resolve(f).startsWith(dir + sep)));
  if (foreign.length) throw new Error(`dashboard client bundles files outside ${relative(process.cwd(), CLIENT)}: ${foreign.join(', ')}`);
  const [out] = result.outputFiles;
  // a hub reading the file never sees half of it
  await writeFileAtomic(OUTFILE, out.contents);
  return sizeOf(OUTFILE, out.contents);
}

/** vitest globalSetup. */
export async function setup() {
  await buildDashboard();
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = await buildDashboard();
  for (const line of sizeLines([{ ...r, file: relative(process.cwd(), r.file) }])) console.log(line);
}
