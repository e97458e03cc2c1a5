// TEMPORARY: an esbuild plugin for tests that bundles the stand-ins in this folder for the parts other
// helpers deliver (idb-store, ort-web, sha256, @edgefleet/agent/mqtt) while those do not exist yet. A
// part that exists is bundled as it is, so after the merge the same tests build the real thing.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'esbuild';

const here = (f: string): string => fileURLToPath(new URL(f, import.meta.url));
const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const AGENT_PKG = fileURLToPath(new URL('../../../agent/package.json', import.meta.url));

/** Which parts were stood in for by the last build. */
export const stoodIn = new Set<string>();

export const standIns: Plugin = {
  name: 'edgefleet-stand-ins',
  setup(b) {
    b.onResolve({ filter: /^\.\/(idb-store|ort-web|sha256)\.js$/ }, (args) => {
      const name = args.path.slice(2, -3);
      if (!args.importer.startsWith(SRC) || existsSync(`${SRC}${name}.ts`)) return undefined;
      stoodIn.add(name);
      return { path: here(`./${name}.ts`) };
    });
    b.onResolve({ filter: /^@edgefleet\/agent\/mqtt$/ }, () => {
      const exportsField = (JSON.parse(readFileSync(AGENT_PKG, 'utf8')) as { exports?: Record<string, unknown> }).exports ?? {};
      if ('./mqtt' in exportsField) return undefined;
      stoodIn.add('mqtt');
      return { path: here('./mqtt.ts') };
    });
  },
};
