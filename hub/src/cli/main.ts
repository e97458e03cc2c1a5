// The `edgefleet` bin's entry (design §2): hub/bin/edgefleet.js calls `run()`, and so does executing
// this file directly (tests run it from source through tsx). Importing it runs nothing.

import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { main } from './index.js';

export { main };

export async function run(argv: string[] = process.argv.slice(2)): Promise<void> {
  const code = await main(argv);
  if (code !== 0) process.exitCode = code;
}

const self = fileURLToPath(import.meta.url);
const entry = process.argv[1] ? (() => { try { return realpathSync(process.argv[1]!); } catch { return process.argv[1]; } })() : undefined;
if (entry === self) await run();
