// Bundles the device page (issue 12) into web-runtime/dist/device/, which the hub serves at /device:
//   index.html, sw.js                      fixed names (served no-cache)
//   assets/<name>-<hash>.{js,css}          the page, the agent Worker and their shared chunks (immutable)
//   assets/ort-<hash>/ort-wasm-simd-threaded.{mjs,wasm}   onnxruntime-web's wasm build, only that variant
// The ort files keep their names inside a content-hashed folder because onnxruntime-web takes a path
// prefix (env.wasm.wasmPaths) and appends its own file names. The page learns where the worker and ort
// are from a JSON block in index.html; the Service Worker gets the shell list baked in. Run by
// `npm run build` after tsc (it bundles the workspace packages' dist/). Prints raw and gzipped sizes.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleForBrowser, kib, sizeLines, sizeOf, writeDirAtomic } from '../../scripts/lib/browser-bundle.mjs';

const PKG = fileURLToPath(new URL('..', import.meta.url));
const SRC = resolve(PKG, 'src');
export const OUTDIR = resolve(PKG, 'dist/device');
const ORT_FILES = ['ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'];

const hash8 = (bytes) => createHash('sha256').update(bytes).digest('hex').slice(0, 8);

function html({ base, page, css, worker, ort }) {
  // the JSON block is data, not script: a CSP without 'unsafe-inline' allows it. Paths in it are relative
  // to the page's root, which the page finds from its own script's URL; the two tags need the mount path
  // (`base`) as the hub's CSP forbids <base> and /device without the slash serves this file too.
  const assets = JSON.stringify({ worker, ort }).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edgefleet device</title>
<link rel="stylesheet" href="${base}${css}">
<script type="application/json" id="edgefleet-assets">${assets}</script>
<script type="module" src="${base}${page}"></script>
</head>
<body>
<h1>edgefleet device <small id="sw-status"></small></h1>
<main id="app"><p>Loading…</p></main>
<noscript>This page runs the edgefleet agent and needs JavaScript.</noscript>
</body>
</html>
`;
}

/**
 * Build the device page into `outDir` (default web-runtime/dist/device). `plugins` go to esbuild (tests hand
 * stand-ins for parts not merged yet); `base` is the path the page is served at (the hub's /device/). Returns the files written with raw and gzipped sizes, and the metafile.
 */
export async function buildDevice({ outDir = OUTDIR, plugins = [], base = '/device/' } = {}) {
  const result = await bundleForBrowser({
    entryPoints: { page: join(SRC, 'page/index.ts'), worker: join(SRC, 'worker.ts'), style: join(SRC, 'page/page.css') },
    tsconfig: join(PKG, 'tsconfig.json'),
    splitting: true,
    format: 'esm',
    // onnxruntime-web without its embedded glue: it imports ort-wasm-simd-threaded.mjs from wasmPaths
    conditions: ['onnxruntime-web-use-extern-wasm'],
    metafile: true,
    outdir: join(outDir, 'assets'),
    entryNames: '[name]-[hash]',
    chunkNames: 'chunk-[hash]',
    plugins,
  });
  const files = new Map(); // path relative to outDir → bytes
  let page, css, worker;
  for (const f of result.outputFiles) {
    const rel = relative(outDir, f.path).split('\\').join('/');
    files.set(rel, f.contents);
    const name = rel.slice('assets/'.length);
    if (name.startsWith('page-') && name.endsWith('.js')) page = rel;
    else if (name.startsWith('worker-') && name.endsWith('.js')) worker = rel;
    else if (name.startsWith('style-') && name.endsWith('.css')) css = rel;
  }
  if (!page || !worker || !css) throw new Error('the bundle lacks the page, the worker or the style sheet');

  const ortDist = dirname(createRequire(join(PKG, 'package.json')).resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
  const ortBytes = await Promise.all(ORT_FILES.map((f) => readFile(join(ortDist, f))));
  const ortDir = `assets/ort-${hash8(Buffer.concat(ortBytes))}/`;
  ORT_FILES.forEach((f, i) => files.set(ortDir + f, ortBytes[i]));

  const index = Buffer.from(html({ base, page, css, worker, ort: ortDir }));
  const assets = [...files.keys()].sort();
  const shell = ['./', './index.html', ...assets];
  const version = hash8(Buffer.concat([index, Buffer.from(assets.join('\n'))]));
  const sw = await bundleForBrowser({
    entryPoints: [join(SRC, 'sw.ts')],
    tsconfig: join(PKG, 'tsconfig.json'),
    format: 'iife',
    define: { __SHELL__: JSON.stringify(shell), __VERSION__: JSON.stringify(version) },
  });
  files.set('index.html', index);
  files.set('sw.js', sw.outputFiles[0].contents);

  // a hub serving the old build never sees half of the new one
  await writeDirAtomic(outDir, files);

  const sizes = [...files].map(([rel, bytes]) => sizeOf(rel, bytes));
  return { outDir, page, worker, css, ort: ortDir, sizes, metafile: result.metafile };
}

/** Bytes in the JS output by package (or workspace room), largest first: what the bundle pulls in. */
export function contributors(metafile) {
  const by = new Map();
  for (const out of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(out.inputs)) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
      const key = m ? m[1] : input.replace(/^(\.\.\/)+/, '').split('/').slice(0, 2).join('/');
      by.set(key, (by.get(key) ?? 0) + bytesInOutput);
    }
  }
  return [...by].sort((a, b) => b[1] - a[1]);
}

/** Sizes of what the page loads, ort's wasm build apart (the goal: ≤ 250 KB gzipped without it). */
export function totals(sizes) {
  const code = sizes.filter((s) => !s.file.includes('/ort-'));
  const sum = (xs, k) => xs.reduce((n, s) => n + s[k], 0);
  return { bytes: sum(code, 'bytes'), gzip: sum(code, 'gzip') };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = await buildDevice();
  for (const line of sizeLines(r.sizes)) console.log(line);
  const t = totals(r.sizes);
  console.log(`device page: ${relative(process.cwd(), r.outDir)}, ${kib(t.bytes)} (${kib(t.gzip)} gzipped) without ort's wasm build`);
  if (process.argv.includes('--contributors')) for (const [k, n] of contributors(r.metafile).slice(0, 15)) console.log(`  ${k.padEnd(40)} ${kib(n).padStart(12)}`);
}
