// Bundles the `edgefleet-agent` bin (dist/bin.js, after tsc) into dist/edgefleet-agent.mjs (+ the chunks it
// imports lazily, dist/bin-chunks/), which
// bin/edgefleet-agent.js loads (issue 15 §3, bench/README "agent.rss_mb"). Node cannot tree-shake ES
// modules: loading dist/ loads every module of zod (all its locales), mqtt.js and their dependencies,
// each kept as a module record and source string. One bundle holds only what the bin reaches: measured
// idle with one model active, 104 → 95 MB VmRSS (bare node + onnxruntime: 76 MB); 92.3–93.2 MB with the
// chunk split and lazy mqtt transports below. The library entry
// points (dist/index.js …) stay unbundled for apps that embed the agent. Native addons stay external.

import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const PKG = fileURLToPath(new URL('..', import.meta.url));

// mqtt.js builds its table of stream builders (tcp, tls, ws) on the first connect, and tcp.js/tls.js
// require the SOCKS proxy module at load: a device on mqtt:// would evaluate `ws`, `socks`, `ip-address`
// and node:tls, node:https, node:zlib... it never uses. Each of those mqtt.js modules is replaced here by a
// stand-in exporting the same functions, which evaluates the real module (still in the bundle) on its
// first call. Same code runs when a device does use wss:// or a SOCKS proxy. Measured on the idle bin:
// see bench/README "agent.rss_mb".
const MQTT_CONNECT = path.dirname(createRequire(path.join(PKG, 'package.json')).resolve('mqtt/lib/connect/tcp'));
const LAZY = { './ws': ['streamBuilder', 'browserStreamBuilder'], './tls': ['default'], './socks': ['default'] };
const lazyMqttTransports = {
  name: 'lazy-mqtt-transports',
  setup(build) {
    build.onResolve({ filter: /^\.\/(ws|tls|socks)$/ }, (args) =>
      path.dirname(args.importer) === MQTT_CONNECT && args.namespace === 'file' ? { path: args.path, namespace: 'lazy-mqtt', pluginData: path.join(MQTT_CONNECT, `${args.path.slice(2)}.js`) } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'lazy-mqtt' }, (args) => ({
      resolveDir: MQTT_CONNECT,
      loader: 'js',
      contents: [
        'let real = null;',
        `const load = () => (real ??= require(${JSON.stringify(args.pluginData)}));`,
        'Object.defineProperty(exports, "__esModule", { value: true });',
        ...LAZY[args.path].map((name) => `exports.${name} = function (...a) { return load().${name}.apply(this, a); };`),
      ].join('\n'),
    }));
  },
};

// The native packages stay outside the bundle. Imported from an ES module, Node would first run its
// CommonJS export lexer over onnxruntime-node's and onnxruntime-common's files (every `export *` level)
// to name their exports, a pass a plain `require` skips: so the bundle reaches them through `require`
// (the banner's), as a CommonJS app would. Measured on the idle bin: see bench/README "agent.rss_mb".
const NATIVE = ['onnxruntime-node', 'better-sqlite3'];
const requireNative = {
  name: 'require-native',
  setup(build) {
    build.onResolve({ filter: new RegExp(`^(${NATIVE.join('|')})$`) }, (args) =>
      args.namespace === 'file' ? { path: args.path, namespace: 'require-native' } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'require-native' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: 'js', resolveDir: PKG }));
  },
};

rmSync(path.join(PKG, 'dist/bin-chunks'), { recursive: true, force: true }); // no stale chunks from an earlier build
await esbuild.build({
  absWorkingDir: PKG,
  entryPoints: ['dist/bin.js'],
  // code splitting: what the bin imports dynamically (the local API's hono app and @hono/node-server) is
  // its own chunk, loaded on the first request. In one file, esbuild hoists every ES module's builtin
  // imports to the top, so the idle bin loaded node:http2 (and with it tls, net internals…) for nothing.
  outdir: 'dist',
  entryNames: 'edgefleet-agent',
  chunkNames: 'bin-chunks/[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  splitting: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // onnxruntime-node and better-sqlite3 load .node files; ws's optional speed-ups are absent by design
  external: [...NATIVE, 'bufferutil', 'utf-8-validate'],
  // whitespace and syntax only: names stay, so stack traces from devices remain readable
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  // CommonJS dependencies (mqtt.js's) call require() for builtins, which an ES module bundle lacks
  banner: { js: "import { createRequire as __edgefleetRequire } from 'node:module'; const require = __edgefleetRequire(import.meta.url);" },
  plugins: [lazyMqttTransports, requireNative],
  logLevel: 'warning',
});
