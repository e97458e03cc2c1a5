// `npm run build:agent [-- --out DIR]` (design §9): the device agent as one Linux executable — an esbuild
// bundle of agent/src/bin.ts made into a Node single-executable application (SEA blob, postject'ed into a
// copy of this `node`) — plus the native addons beside it and a systemd unit.
//
// Layout of DIR (default ./dist-agent):
//   edgefleet-agent             the executable (Node + the bundled agent)
//   node_modules/…              onnxruntime-node (+ libonnxruntime), onnxruntime-common, better-sqlite3
//                               (+ bindings, file-uri-to-path): only the files they load at run time
//   edgefleet-agent.service     systemd unit for /opt/edgefleet
//
// Why beside and not embedded: a SEA's `require` sees only builtins, and a .node addon can only be
// dlopen'ed from a file, so embedded addons would be extracted to disk on first start anyway; shipping
// them as files keeps the executable read-only and `ldd`-able. The bundle reaches them through
// `createRequire(<dir of the executable>/…)`, so the directory is relocatable as a whole.
//
// It builds for the machine it runs on (platform and arch of `process.execPath`): arm64 needs this
// script run on an arm64 Node.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXE = 'edgefleet-agent';
// Node's SEA fuse (doc/api/single-executable-applications.md): postject flips it so node runs the blob.
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
// Packages the bundle leaves out and loads from DIR/node_modules at run time (native code inside).
const NATIVE = ['onnxruntime-node', 'better-sqlite3'];
// Optional packages our dependencies try to require and do without: ws's native speed-ups (it falls back
// to JS) and debug's supports-color. Left as plain requires they would hit the SEA's builtins-only
// `require`, which prints a warning on every start before throwing; they become "not found" instead.
const ABSENT = ['bufferutil', 'utf-8-validate', 'supports-color'];

const USAGE = 'usage: tsx scripts/build-agent.ts [--out DIR]   (default ./dist-agent)';

/**
 * What each shipped package needs at run time, as paths relative to the package (a trailing `/` takes
 * the whole folder). Everything else in node_modules (sources, other platforms' binaries, build
 * intermediates, install scripts) stays behind.
 */
const SHIPPED: Record<string, (dir: string) => string[]> = {
  'onnxruntime-node': (dir) => [
    'package.json',
    ...jsFiles(dir, 'dist'),
    // the napi-vN folder name follows onnxruntime's build; take whichever this version has
    ...fs.readdirSync(path.join(dir, 'bin')).map((v) => `bin/${v}/${process.platform}/${process.arch}/`),
  ],
  'onnxruntime-common': (dir) => ['package.json', 'dist/cjs/package.json', ...jsFiles(dir, 'dist/cjs')],
  'better-sqlite3': () => ['package.json', 'LICENSE', 'lib/', 'build/Release/better_sqlite3.node'],
  bindings: () => ['package.json', 'LICENSE.md', 'bindings.js'],
  'file-uri-to-path': () => ['package.json', 'LICENSE', 'index.js'],
};

/** `.js` files under `sub`, recursively, relative to `dir` (no maps, no typings). */
function jsFiles(dir: string, sub: string): string[] {
  return fs
    .readdirSync(path.join(dir, sub), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.js'))
    .map((f) => path.posix.join(sub, f.split(path.sep).join('/')));
}

/** The folder of package `name` as Node would find it from `fromDir` (walks up through node_modules). */
function packageDir(name: string, fromDir: string): string {
  for (let d = fromDir; ; d = path.dirname(d)) {
    const candidate = path.join(d, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return fs.realpathSync(candidate);
    if (path.dirname(d) === d) throw new Error(`cannot find package ${name} from ${fromDir}`);
  }
}

/** Runtime dependencies of a shipped package that are themselves shipped (transitively). */
function shippedClosure(): Map<string, string> {
  const found = new Map<string, string>();
  const visit = (name: string, fromDir: string): void => {
    if (found.has(name)) return;
    const dir = packageDir(name, fromDir);
    found.set(name, dir);
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    // install-time dependencies (prebuild-install, adm-zip, global-agent) are not in SHIPPED: not needed
    for (const dep of Object.keys(pkg.dependencies ?? {})) if (dep in SHIPPED) visit(dep, dir);
  };
  for (const name of NATIVE) visit(name, path.join(ROOT, 'agent'));
  return found;
}

function copyPackage(name: string, from: string, toModules: string): number {
  const spec = SHIPPED[name];
  if (!spec) throw new Error(`no file list for ${name}`);
  const to = path.join(toModules, name);
  let bytes = 0;
  for (const rel of spec(from)) {
    const src = path.join(from, rel);
    if (!fs.existsSync(src)) throw new Error(`${name}: ${rel} missing (was the package installed for ${process.platform}-${process.arch}?)`);
    fs.cpSync(src, path.join(to, rel), { recursive: true, dereference: true });
  }
  for (const f of fs.readdirSync(to, { recursive: true, encoding: 'utf8' })) {
    const st = fs.statSync(path.join(to, f));
    if (st.isFile()) bytes += st.size;
  }
  return bytes;
}

/** An esbuild plugin that replaces each of `names` (imported by exactly that name) with `contents(name)`. */
function stubs(plugin: string, names: string[], contents: (name: string) => string): esbuild.Plugin {
  const filter = new RegExp(`^(${names.map((n) => n.replace(/[-/\\^$*+?.()|[\]{}]/g, '\\$&')).join('|')})$`);
  return {
    name: plugin,
    setup(build) {
      build.onResolve({ filter }, (args) => ({ path: args.path, namespace: plugin }));
      build.onLoad({ filter: /.*/, namespace: plugin }, (args) => ({ loader: 'js', contents: contents(args.path) }));
    },
  };
}

// A SEA's own `require` loads only builtins; `createRequire` gives a normal CommonJS loader rooted beside
// the executable, so each native package is required from DIR/node_modules.
const besideExecutable = stubs(
  'beside-executable',
  NATIVE,
  (name) => `const path = require('node:path');
const dir = path.dirname(process.execPath);
try {
  module.exports = require('node:module').createRequire(path.join(dir, ${JSON.stringify(EXE)}))(${JSON.stringify(name)});
} catch (err) {
  if (err.code !== 'MODULE_NOT_FOUND') throw err;
  throw new Error(${JSON.stringify(name)} + ' not found in ' + path.join(dir, 'node_modules') + ': install the whole build folder, not only the executable', { cause: err });
}
`,
);

// What a missing package does: throw MODULE_NOT_FOUND (the callers catch it).
const absentOptional = stubs(
  'absent-optional',
  ABSENT,
  (name) => `throw Object.assign(new Error(${JSON.stringify(`Cannot find module '${name}'`)}), { code: 'MODULE_NOT_FOUND' });\n`,
);

/**
 * Runs a build step quietly; its output is shown only when it fails. (postject warns "Can't find string
 * offset for section name '.note.100'" for every note section of Node's binary: harmless, nodejs/postject#83.)
 */
function run(file: string, args: string[]): void {
  const r = spawnSync(file, args, { encoding: 'utf8' });
  if (r.status !== 0) {
    process.stderr.write(`${r.stdout ?? ''}${r.stderr ?? ''}`);
    throw new Error(`${path.basename(file)} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`);
  }
}

function humanSize(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

async function main(): Promise<number> {
  let out: string;
  try {
    const { values } = parseArgs({ options: { out: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true });
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    out = path.resolve(values.out ?? path.join(ROOT, 'dist-agent'));
  } catch (err) {
    process.stderr.write(`build-agent: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (process.platform !== 'linux') {
    process.stderr.write(`build-agent: builds a Linux executable and must run on Linux (this is ${process.platform})\n`);
    return 2;
  }
  const node = fs.readFileSync(process.execPath);
  if (!node.includes(SEA_FUSE)) {
    process.stderr.write(`build-agent: ${process.execPath} has no single-executable support (fuse ${SEA_FUSE} not found)\n`);
    return 2;
  }

  // --out is emptied: refuse anything that is not empty or a previous build (a typo must not wipe a folder)
  if (fs.existsSync(out) && fs.readdirSync(out).length > 0 && !fs.existsSync(path.join(out, EXE))) {
    process.stderr.write(`build-agent: ${out} is not empty and holds no ${EXE}: not replacing it\n`);
    return 2;
  }

  const t0 = performance.now();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'edgefleet-build-agent-'));
  try {
    // 1. bundle: CommonJS, because a SEA's main script is run as CommonJS (Node 20)
    const bundle = path.join(work, 'agent.cjs');
    const result = await esbuild.build({
      absWorkingDir: ROOT,
      entryPoints: ['agent/src/bin.ts'],
      outfile: bundle,
      bundle: true,
      platform: 'node',
      target: `node${process.versions.node}`,
      format: 'cjs',
      // protocol from source, as vitest does: the executable never carries a stale protocol/dist
      alias: { '@edgefleet/protocol': './protocol/src/index.ts' },
      plugins: [besideExecutable, absentOptional],
      minifySyntax: true,
      legalComments: 'eof',
      logLevel: 'warning',
    });
    if (result.errors.length > 0) throw new Error('esbuild failed');

    // 2. SEA blob, made by this very node so blob and binary match
    const blob = path.join(work, 'agent.blob');
    const seaConfig = path.join(work, 'sea-config.json');
    fs.writeFileSync(seaConfig, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true }));
    run(process.execPath, ['--experimental-sea-config', seaConfig]);

    // replaced only now, so a failed bundle leaves the previous build in place
    fs.rmSync(out, { recursive: true, force: true });
    fs.mkdirSync(out, { recursive: true });

    // 3. inject into a copy of node, stripped of its symbol table and debug info first when binutils is
    // here (this Node 20 linux-x64 binary: 94.3 → 82.3 MiB; .dynsym stays, so addons still link against it)
    const exe = path.join(out, EXE);
    fs.writeFileSync(exe, node, { mode: 0o755 });
    const stripped = spawnSync('strip', ['--strip-all', exe]).status === 0;
    const postject = createRequire(import.meta.url).resolve('postject/dist/cli.js');
    run(process.execPath, [postject, exe, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE]);
    fs.chmodSync(exe, 0o755);

    // 4. native addons beside it
    let addonBytes = 0;
    for (const [name, dir] of shippedClosure()) addonBytes += copyPackage(name, dir, path.join(out, 'node_modules'));

    // 5. systemd unit
    fs.copyFileSync(path.join(ROOT, 'scripts', 'agent-package', 'edgefleet-agent.service'), path.join(out, 'edgefleet-agent.service'));

    const exeBytes = fs.statSync(exe).size;
    const seconds = ((performance.now() - t0) / 1000).toFixed(1);
    process.stdout.write(
      `${exe}  ${humanSize(exeBytes)}${stripped ? '' : ' (not stripped: no binutils `strip` here)'}\n` +
        `${path.join(out, 'node_modules')}  ${humanSize(addonBytes)} (native addons)\n` +
        `${path.join(out, 'edgefleet-agent.service')}\n` +
        `total ${humanSize(exeBytes + addonBytes)} in ${out} (${process.platform}-${process.arch}, node ${process.version}), built in ${seconds} s\n`,
    );
    return 0;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`build-agent: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
