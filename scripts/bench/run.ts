// `npm run bench [-- NAME...]` (design §11): runs the registered benchmarks (all, or those whose name
// starts with a given NAME) and merges their entries into bench/results.json, keeping the others.

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isBenchEntry, type BenchEntry, type Benchmark, type BenchmarkModule } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const resultsPath = join(here, '..', '..', 'bench', 'results.json');
const NOT_MODULES = new Set(['run.ts', 'harness.ts']);

async function loadRegistry(): Promise<{ registry: Map<string, Benchmark>; broken: string[] }> {
  const registry = new Map<string, Benchmark>();
  const broken: string[] = [];
  const files = readdirSync(here)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts') && !NOT_MODULES.has(f) && !f.startsWith('_'))
    .sort();
  for (const file of files) {
    try {
      const mod = (await import(pathToFileURL(join(here, file)).href)) as BenchmarkModule;
      for (const [name, fn] of Object.entries(mod.benchmarks ?? {})) {
        if (registry.has(name)) throw new Error(`benchmark ${name} is registered twice`);
        registry.set(name, fn);
      }
    } catch (err) {
      // one module that does not load must not stop the others
      broken.push(`${file}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return { registry, broken };
}

function readResults(): Record<string, BenchEntry> {
  if (!existsSync(resultsPath)) return {};
  try {
    const parsed = JSON.parse(readFileSync(resultsPath, 'utf8')) as unknown;
    return parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, BenchEntry>) : {};
  } catch {
    return {};
  }
}

function writeResults(results: Record<string, BenchEntry>): void {
  mkdirSync(dirname(resultsPath), { recursive: true });
  const sorted = Object.fromEntries(Object.entries(results).sort(([a], [b]) => a.localeCompare(b)));
  const tmp = `${resultsPath}.tmp`;
  writeFileSync(tmp, JSON.stringify(sorted, null, 2) + '\n');
  renameSync(tmp, resultsPath);
}

/** Benchmark names selected by the CLI arguments: prefix match either way (`protocol` or `agent.infer.overhead.tiny`). */
function select(names: string[], args: string[]): string[] {
  if (args.length === 0) return names;
  return names.filter((n) => args.some((a) => n.startsWith(a) || a.startsWith(`${n}.`)));
}

function fmt(x: number | undefined): string {
  if (x === undefined) return '';
  if (Number.isInteger(x)) return String(x);
  return Math.abs(x) >= 100 ? x.toFixed(1) : Math.abs(x) >= 1 ? x.toFixed(3) : x.toPrecision(3);
}

function printTable(rows: [string, BenchEntry][]): void {
  const table = rows.map(([name, e]) => [name, fmt(e.value), e.unit, fmt(e.baseline), fmt(e.ratio)]);
  const header = ['name', 'value', 'unit', 'baseline', 'ratio'];
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 1 || i >= 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of table) console.log(line(r));
}

async function main(): Promise<number> {
  const args = process.argv.slice(2).filter((a) => a !== '--');
  const { registry, broken } = await loadRegistry();
  for (const b of broken) console.error(`bench: could not load ${b}`);
  if (args.includes('--list')) {
    for (const name of [...registry.keys()].sort()) console.log(name);
    return 0;
  }
  const chosen = select([...registry.keys()].sort(), args);
  const unmatched = args.filter((a) => !chosen.some((n) => n.startsWith(a) || a.startsWith(`${n}.`)));
  if (unmatched.length > 0) {
    console.error(`bench: no benchmark matches ${unmatched.join(', ')}; known: ${[...registry.keys()].sort().join(', ')}`);
    return 2;
  }
  let failed = broken.length > 0 && args.length === 0;
  const fresh: [string, BenchEntry][] = [];
  for (const name of chosen) {
    process.stderr.write(`bench: ${name} … `);
    const t0 = Date.now();
    try {
      const out = await registry.get(name)!();
      const entries: [string, BenchEntry][] = isBenchEntry(out)
        ? [[name, out]]
        : Object.entries(out).map(([k, e]) => [`${name}.${k}`, e] as [string, BenchEntry]);
      // update only this benchmark's entries, the others in the file stay as they were
      const results = readResults();
      for (const key of Object.keys(results)) if (key === name || key.startsWith(`${name}.`)) delete results[key];
      for (const [k, e] of entries) results[k] = e;
      writeResults(results);
      fresh.push(...entries);
      process.stderr.write(`${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    } catch (err) {
      failed = true;
      process.stderr.write(`FAILED\n`);
      console.error(err);
    }
  }
  if (fresh.length > 0) printTable(fresh);
  for (const [name, e] of fresh) if (e.note) console.log(`  ${name}: ${e.note}`);
  return failed ? 1 : 0;
}

process.exitCode = await main();
