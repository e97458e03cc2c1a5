// Types of build.mjs (the device page bundler), for TypeScript callers of `@edgefleet/web-runtime/build`
// (the bench's web figures): plain declarations, the script itself stays JavaScript run by node.

export const OUTDIR: string;

export interface BuiltFile {
  /** Path relative to the output dir, '/'-separated. */
  file: string;
  bytes: number;
  /** gzip level 9. */
  gzip: number;
}

export interface DeviceBuild {
  outDir: string;
  /** Paths relative to outDir: the page script, the agent worker, the style sheet, ort's folder (trailing slash). */
  page: string;
  worker: string;
  css: string;
  ort: string;
  sizes: BuiltFile[];
  metafile: unknown;
}

export function buildDevice(options?: { outDir?: string; plugins?: unknown[]; base?: string }): Promise<DeviceBuild>;
export function contributors(metafile: unknown): Array<[string, number]>;
/** Raw and gzipped bytes of what the page loads, ort's wasm build apart. */
export function totals(sizes: BuiltFile[]): { bytes: number; gzip: number };
