// The `edgefleet` bin's entry (design §2): the commands live in cli/; importing this module runs
// nothing, `run()` does (hub/bin/edgefleet.js calls it), and so does executing this file directly.

import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { main } from './cli/index.js';

export { main };

export async function run(argv: string[] = process.argv.slice(2)): Promise<void> {
  const code = await main(argv);
  if (code !== 0) process.exitCode = code;
}

const self = fileURLToPath(import.meta.url);
const entry = process.argv[1] ? (() => { try { return realpathSync(process.argv[1]!); } catch { return process.argv[1]; } })() : undefined;
if (entry === self) await run();
