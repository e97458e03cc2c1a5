// The tree's room rules (ARCHITECTURE.md), kept by a test the way zod guards its own import cycles:
// no import cycles, rooms import one way, SQL only in the hub's store/, nothing outside the hub's http/
// imports it, no Node builtins in the agent core, no deep imports across packages, every room has an
// index.ts face that opens with a comment, and no source file over 400 lines.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const PACKAGES = ['protocol', 'agent', 'hub', 'web-runtime'];
const BUILTINS = new Set(builtinModules.flatMap((m) => [m, m.split('/')[0]!]));
const MAX_LINES = 400;

/**
 * Which hub rooms each room may import (besides itself, protocol and the hub's shared leaves context.ts
 * and metrics.ts), lowest room first: the table itself must stay one-way (checked below). The composition
 * root hub.ts and the public face index.ts may import any room; `face` is that index.ts, which the API's
 * clients (cli/, dashboard/) use for the API's types. Mirrors the table in ARCHITECTURE.md.
 */
const HUB_ROOMS: Record<string, readonly string[]> = {
  store: [],
  trust: ['store'],
  broker: ['store'],
  notify: ['store'],
  replicas: ['store'],
  devices: ['store', 'broker'],
  artifacts: ['store', 'broker'],
  models: ['store', 'trust', 'artifacts'],
  desired: ['store', 'trust'],
  telemetry: ['store', 'devices', 'notify'],
  rollouts: ['store', 'artifacts', 'desired', 'telemetry', 'notify', 'devices'],
  dashboard: ['face'],
  'device-page': [],
  http: ['store', 'trust', 'broker', 'devices', 'models', 'artifacts', 'desired', 'rollouts', 'telemetry', 'notify', 'dashboard', 'device-page'],
  cli: ['face', 'trust'],
};
const HUB_SHARED = new Set(['context.ts', 'metrics.ts']);
const HUB_ROOTS = new Set(['hub.ts', 'index.ts']);

interface SourceFile {
  path: string; // repo-relative, '/'-separated
  text: string;
}

function walk(dir: string, keep: (name: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'dist' ? [] : walk(p, keep);
    return keep(e.name) ? [p] : [];
  });
}

const isSource = (name: string) => /\.(ts|mts|cts)$/.test(name) && !name.endsWith('.d.ts') && !/\.test\.ts$/.test(name);
const isAnyTs = (name: string) => /\.(ts|mts|cts)$/.test(name) && !name.endsWith('.d.ts');
const rel = (p: string) => relative(ROOT, p).split(sep).join('/');
const load = (p: string): SourceFile => ({ path: rel(p), text: readFileSync(p, 'utf8') });

function packageSources(pkg: string): SourceFile[] {
  return walk(join(ROOT, pkg, 'src'), isSource).map(load);
}

/** Every module a file imports, as written: static, type-only, re-exports, import() and require(). */
export function importsOf(text: string): string[] {
  const info = ts.preProcessFile(text, true, true);
  return info.importedFiles.map((f) => f.fileName);
}

/** A relative specifier resolved to a repo-relative .ts path (the `.js` suffix names the .ts source). */
function resolveRelative(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = resolve(ROOT, dirname(from), spec);
  for (const candidate of [base.replace(/\.js$/, '.ts'), base, `${base}.ts`, join(base, 'index.ts')]) {
    if (existsSync(candidate) && /\.ts$/.test(candidate)) return rel(candidate);
  }
  return undefined;
}

type Graph = Map<string, string[]>;

function graphOf(files: SourceFile[]): Graph {
  const known = new Set(files.map((f) => f.path));
  const g: Graph = new Map();
  for (const f of files) {
    const to = importsOf(f.text)
      .map((s) => resolveRelative(f.path, s))
      .filter((p): p is string => p !== undefined && known.has(p));
    g.set(f.path, [...new Set(to)]);
  }
  return g;
}

/** Strongly connected components with more than one file (or a self-import): each is a cycle. */
export function cyclesOf(g: Graph): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of g.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (g.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of g.keys()) if (!idx.has(v)) visit(v);
  return out;
}

/** The hub room a file belongs to: its first folder under hub/src, or its name for root files. */
function hubRoom(path: string): string {
  const inner = path.slice('hub/src/'.length);
  const slash = inner.indexOf('/');
  return slash < 0 ? inner : inner.slice(0, slash);
}

/** Code lines only: a `.prepare(` inside a comment is not SQL. */
function codeLines(text: string): string[] {
  return text.split('\n').filter((line) => !/^\s*(\/\/|\*|\/\*)/.test(line));
}

describe('structure', () => {
  const sources = PACKAGES.flatMap(packageSources);
  const hub = sources.filter((f) => f.path.startsWith('hub/src/'));

  it('sees the forms it checks: a cycle, a type-only import, an import() and a re-export', () => {
    expect(cyclesOf(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]))).toEqual([['a', 'b', 'c']]);
    expect(importsOf("import type { A } from './a.js';\nexport * from './b.js';\nconst c = await import('./c.js');")).toEqual([
      './a.js',
      './b.js',
      './c.js',
    ]);
    expect(sources.length).toBeGreaterThan(100);
    expect(hub.length).toBeGreaterThan(40);
  });

  it('has no import cycle inside any package, type-only imports included', () => {
    for (const pkg of PACKAGES) {
      expect(cyclesOf(graphOf(sources.filter((f) => f.path.startsWith(`${pkg}/`)))), pkg).toEqual([]);
    }
  });

  it('imports hub rooms only in the directions ARCHITECTURE.md allows', () => {
    const wrong: string[] = [];
    for (const f of hub) {
      const from = hubRoom(f.path);
      if (HUB_ROOTS.has(from) || HUB_SHARED.has(from)) continue;
      const allowed = HUB_ROOMS[from];
      if (!allowed) {
        wrong.push(`${f.path}: a file outside every room (add it to a room)`);
        continue;
      }
      for (const spec of importsOf(f.text)) {
        const target = resolveRelative(f.path, spec);
        if (!target?.startsWith('hub/src/')) continue;
        const to = target === 'hub/src/index.ts' ? 'face' : hubRoom(target);
        if (to === from || HUB_SHARED.has(to) || allowed.includes(to)) continue;
        wrong.push(`${f.path} -> ${target}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('keeps the room table itself one-way: a room imports only rooms listed before it', () => {
    const order = Object.keys(HUB_ROOMS);
    const backwards = order.flatMap((room, i) =>
      HUB_ROOMS[room]!.filter((to) => to !== 'face' && !order.slice(0, i).includes(to)).map((to) => `${room} -> ${to}`),
    );
    expect(backwards).toEqual([]);
  });

  it('lets nothing outside the hub http/ room import it but the composition root', () => {
    const wrong = hub.flatMap((f) =>
      hubRoom(f.path) === 'http' || f.path === 'hub/src/hub.ts'
        ? []
        : importsOf(f.text)
            .map((s) => resolveRelative(f.path, s))
            .filter((t) => t?.startsWith('hub/src/http/'))
            .map((t) => `${f.path} -> ${t}`),
    );
    expect(wrong).toEqual([]);
  });

  it('writes SQL statements only in the hub store/ room', () => {
    const wrong = hub
      .filter((f) => hubRoom(f.path) !== 'store')
      .filter((f) => codeLines(f.text).some((line) => /\.prepare\s*[<(]|\bdb\.exec\s*\(/.test(line)))
      .map((f) => f.path);
    expect(wrong).toEqual([]);
  });

  it('keeps Node builtins out of the agent core (it runs in browsers too)', () => {
    const core = sources.filter((f) => f.path.startsWith('agent/src/core/'));
    expect(core.length).toBeGreaterThan(5);
    const wrong = core.flatMap((f) =>
      importsOf(f.text)
        .filter((s) => s.startsWith('node:') || BUILTINS.has(s) || BUILTINS.has(s.split('/')[0]!))
        .map((s) => `${f.path}: ${s}`),
    );
    expect(wrong).toEqual([]);
  });

  it('reaches other packages only through their faces, in sources, tests and scripts alike', () => {
    // a face is an entry of the package's `exports` (dist/x.js is built from src/x.ts); scripts run
    // from source with tsx, so they may name a face by its source path
    const faces = new Set(
      PACKAGES.flatMap((pkg) => {
        const manifest = JSON.parse(readFileSync(join(ROOT, pkg, 'package.json'), 'utf8')) as { exports?: Record<string, { default?: string }> };
        return Object.values(manifest.exports ?? {}).flatMap((e) =>
          e.default ? [`${pkg}/${e.default.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '')}`] : [],
        );
      }),
    );
    expect(faces.has('protocol/src/index')).toBe(true);
    const everything = [...PACKAGES.map((p) => join(ROOT, p)), join(ROOT, 'scripts')].flatMap((d) => walk(d, isAnyTs)).map(load);
    const wrong: string[] = [];
    for (const f of everything) {
      const home = f.path.split('/')[0]!;
      for (const spec of importsOf(f.text)) {
        if (!spec.startsWith('.')) continue;
        const target = rel(resolve(ROOT, dirname(f.path), spec));
        const pkg = target.split('/')[0]!;
        if (pkg !== home && PACKAGES.includes(pkg) && !faces.has(target.replace(/\.(js|ts)$/, ''))) wrong.push(`${f.path}: ${spec}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('gives every source folder an index.ts face that opens with a comment', () => {
    const folders = new Set(sources.map((f) => dirname(f.path)).filter((d) => d.split('/').length > 2));
    const wrong = [...folders].filter((d) => {
      const index = join(ROOT, d, 'index.ts');
      return !existsSync(index) || !/^\s*\/\//.test(readFileSync(index, 'utf8'));
    });
    expect(wrong).toEqual([]);
  });

  it(`has no source file over ${MAX_LINES} lines`, () => {
    const scripts = walk(join(ROOT, 'scripts'), isSource).map(load);
    const long = [...sources, ...scripts]
      .map((f) => ({ path: f.path, lines: f.text.split('\n').length - (f.text.endsWith('\n') ? 1 : 0) }))
      .filter((f) => f.lines > MAX_LINES)
      .map((f) => `${f.path}: ${f.lines}`);
    expect(long).toEqual([]);
  });
});
