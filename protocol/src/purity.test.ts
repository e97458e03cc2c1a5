// The protocol package must run in the browser (design §1): no node:* or Node builtin import in its sources.
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('.', import.meta.url));
const BUILTINS = new Set(builtinModules.flatMap((m) => [m, m.split('/')[0]!]));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return /\.(ts|js|mts|cts)$/.test(e.name) && !/\.test\.ts$/.test(e.name) && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Every module specifier: static imports/exports, side-effect imports, dynamic import() and require(). */
function specifiers(text: string): string[] {
  const out: string[] = [];
  const patterns = [
    /\b(?:import|export)\b[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"`]([^'"`]+)['"`]\s*\)/g,
    /\brequire\s*\(\s*['"`]([^'"`]+)['"`]\s*\)/g,
  ];
  for (const re of patterns) for (const m of text.matchAll(re)) out.push(m[1]!);
  return out;
}

/** Uses of Node-only globals in code (comment lines skipped): they would break the browser build. */
function nodeGlobals(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => !/^\s*(\/\/|\*|\/\*)/.test(line))
    .flatMap((line) => [...line.matchAll(/\b(Buffer|process|__dirname|__filename)\b\s*[.(]/g)].map((m) => m[1]!));
}

function isNodeBuiltin(spec: string): boolean {
  return spec.startsWith('node:') || BUILTINS.has(spec) || BUILTINS.has(spec.split('/')[0]!);
}

describe('protocol purity', () => {
  it('finds the import forms it is meant to catch', () => {
    const sample = [
      "import { readFileSync } from 'node:fs';",
      'import crypto from "crypto";',
      "export * from 'path';",
      "import 'node:process';",
      "const m = await import('node:os');",
      "const b = require('buffer');",
      "import { z } from 'zod';",
    ].join('\n');
    expect(specifiers(sample).filter(isNodeBuiltin)).toEqual(['node:fs', 'crypto', 'path', 'node:process', 'node:os', 'buffer']);
  });

  it('has no node:* or Node builtin import in any protocol source file', () => {
    const files = sourceFiles(SRC);
    expect(files.length).toBeGreaterThan(5);
    const offenders = files.flatMap((f) =>
      specifiers(readFileSync(f, 'utf8'))
        .filter(isNodeBuiltin)
        .map((s) => `${relative(SRC, f)}: ${s}`),
    );
    expect(offenders).toEqual([]);
  });

  it('uses no Node-only global (Buffer, process, __dirname) in protocol source code', () => {
    expect(nodeGlobals("// Buffer.from is not allowed\nconst b = Buffer.from(x);\nif (process.env.X) {}")).toEqual(['Buffer', 'process']);
    const offenders = sourceFiles(SRC).flatMap((f) => nodeGlobals(readFileSync(f, 'utf8')).map((g) => `${relative(SRC, f)}: ${g}`));
    expect(offenders).toEqual([]);
  });
});
