// Bundles the `edgefleet-agent` bin (dist/bin.js, after tsc) into dist/edgefleet-agent.mjs, which
// bin/edgefleet-agent.js loads (issue 15 §3, bench/README "agent.rss_mb"). Node cannot tree-shake ES
// modules: loading dist/ loads every module of zod (all its locales), mqtt.js and their dependencies,
// each kept as a module record and source string. One bundle holds only what the bin reaches: measured
// idle with one model active, 104 → 95 MB VmRSS (bare node + onnxruntime: 76 MB). The library entry
// points (dist/index.js …) stay unbundled for apps that embed the agent. Native addons stay external.

import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const PKG = fileURLToPath(new URL('..', import.meta.url));

await esbuild.build({
  absWorkingDir: PKG,
  entryPoints: ['dist/bin.js'],
  outfile: 'dist/edgefleet-agent.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // onnxruntime-node and better-sqlite3 load .node files; ws's optional speed-ups are absent by design
  external: ['onnxruntime-node', 'better-sqlite3', 'bufferutil', 'utf-8-validate'],
  // whitespace and syntax only: names stay, so stack traces from devices remain readable
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  // CommonJS dependencies (mqtt.js's) call require() for builtins, which an ES module bundle lacks
  banner: { js: "import { createRequire as __edgefleetRequire } from 'node:module'; const require = __edgefleetRequire(import.meta.url);" },
  logLevel: 'warning',
});
