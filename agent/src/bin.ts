// `edgefleet-agent --config agent.json [--data DIR] [--api HOST:PORT] [--api-host NAME]...` (design §2): runs the device agent
// until SIGINT/SIGTERM. A bad config is a one-line error and exit code 2. `edgefleet-agent batch …` runs the
// active verified model over a local file, offline (node/batch-cli.ts).

import './node/device-heap.js';
import fs from 'node:fs';
import { parseArgs } from 'node:util';

// The agent itself is imported once the heap shape above is set: a static import would load and parse
// the whole module graph (protocol, zod, mqtt, hono, …) before any of this file runs.
const agentModule = () => import('./node/assemble.js');
const protocolModule = () => import('@edgefleet/protocol');

const USAGE = 'usage: edgefleet-agent --config agent.json [--data DIR] [--api HOST:PORT] [--api-host NAME]... [--quiet]\n       edgefleet-agent batch --config agent.json [--data DIR] --model NAME --in FILE --out FILE [--strict]';

async function main(): Promise<number> {
  if (process.argv[2] === 'batch') return (await import('./node/batch-cli.js')).batchMain(process.argv.slice(3));
  let values: { config?: string; data?: string; api?: string; 'api-host'?: string[]; quiet?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        config: { type: 'string', short: 'c' },
        data: { type: 'string' },
        api: { type: 'string' },
        // a Host name the local API answers besides loopback (design §5), e.g. the device's LAN name
        'api-host': { type: 'string', multiple: true },
        quiet: { type: 'boolean', short: 'q' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`edgefleet-agent: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!values.config) {
    process.stderr.write(`edgefleet-agent: --config is required\n${USAGE}\n`);
    return 2;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(values.config, 'utf8'));
  } catch (err) {
    process.stderr.write(`edgefleet-agent: cannot read config ${values.config}: ${(err as Error).message}\n`);
    return 2;
  }
  const log = values.quiet ? () => {} : (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  const { createAgent } = await agentModule();
  const { EdgefleetError } = await protocolModule();
  let agent;
  try {
    agent = createAgent(raw, { ...(values.data ? { dataDir: values.data } : {}), ...(values.api ? { api: values.api } : {}), ...(values['api-host'] ? { apiHosts: values['api-host'] } : {}), log });
  } catch (err) {
    const code = err instanceof EdgefleetError ? err.code : 'BAD_INPUT';
    process.stderr.write(`edgefleet-agent: ${code}: ${(err as Error).message}\n`);
    return 2;
  }
  // design §5: a full data dir is reported and waited out, never a reason to stop serving. The core catches
  // its store's errors; this is the net for one that escapes. Anything else still ends the process.
  process.on('unhandledRejection', (err: unknown) => {
    const code = (err as { code?: unknown } | null)?.code;
    if (code === 'DISK_FULL' || code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL') {
      log(`storage: ${err instanceof Error ? err.message : String(err)} (not saved; the agent keeps serving)`);
      return;
    }
    throw err;
  });
  await agent.start();
  process.stdout.write(`edgefleet-agent ${agent.config.deviceId} data=${agent.dataDir} api=${agent.apiUrl ?? 'off'}\n`);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log(`${signal}: stopping`);
      agent
        .stop()
        .catch((err: unknown) => log(`stop failed: ${String(err)}`))
        .finally(resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
}

main().then(
  (code) => process.exit(code),
  async (err: unknown) => {
    const code = await protocolModule().then(
      ({ EdgefleetError }) => (err instanceof EdgefleetError ? err.code : 'INTERNAL'),
      () => 'INTERNAL',
    );
    process.stderr.write(`edgefleet-agent: ${code}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
