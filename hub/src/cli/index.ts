// cli/: the `edgefleet` operator CLI (design §2). `hub start` and `keys init` run locally; every other
// command is a client of the hub's HTTP API, typed with what it answers (api.ts). Each command declares
// its arguments (args.ts); anything it does not declare is refused with `error BAD_INPUT: …` and exit 2
// before anything is sent. Other errors print `error CODE: message` and exit 1. Importing this module
// runs nothing: `main` does (main.ts is the bin's entry).
// May import: @edgefleet/protocol and the hub's face (../index.ts: its types, and startHub on demand);
// trust/keys.ts on demand for `keys init`. No other room, never http/.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EdgefleetError } from '@edgefleet/protocol';
import { commandHelp, commandWords, parseCommand, usageError, usageLine, type CommandSpec } from './args.js';
import { LOCAL_COMMANDS } from './commands-local.js';
import { DEVICE_COMMANDS } from './commands-devices.js';
import { MODEL_COMMANDS } from './commands-models.js';
import { ROLLOUT_COMMANDS } from './commands-rollouts.js';
import { FLEET_COMMANDS } from './commands-fleet.js';
import { DATA_COMMANDS } from './commands-data.js';
import { CAPTURE_COMMANDS } from './commands-capture.js';
import { out, setOutput } from './format.js';

/** The hub package's version (package.json two levels up from src/cli and dist/cli alike). */
export function cliVersion(): string {
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version: string };
  return pkg.version;
}

export const COMMANDS: readonly CommandSpec[] = [...LOCAL_COMMANDS, ...DEVICE_COMMANDS, ...MODEL_COMMANDS, ...ROLLOUT_COMMANDS, ...FLEET_COMMANDS, ...DATA_COMMANDS, ...CAPTURE_COMMANDS];

/** Group spellings that mean the same group. */
const GROUP_ALIASES: Record<string, string> = { webhooks: 'webhook' };

export function globalHelp(): string {
  return `edgefleet — deploy ONNX models to device fleets

Usage:
${COMMANDS.map((c) => `  ${usageLine(c)}\n      ${c.summary}`).join('\n')}

Client options: --hub URL (or EDGEFLEET_HUB, default http://127.0.0.1:8080),
  --token T (or EDGEFLEET_TOKEN, else ./edgefleet-data/admin-token), -o json|yaml (--json = -o json).
edgefleet COMMAND --help shows one command's options; edgefleet --version the CLI's version.
`;
}

/** The command the leading words name (the longest spelling that matches) and the count of words it took. */
function findCommand(words: readonly string[]): { spec: CommandSpec; count: number } | undefined {
  let best: { spec: CommandSpec; count: number } | undefined;
  for (const spec of COMMANDS) {
    for (const spelling of [spec.words, ...(spec.aliases ?? [])]) {
      if (spelling.length <= words.length && spelling.every((w, i) => w === words[i]) && (!best || spelling.length > best.count)) {
        best = { spec, count: spelling.length };
      }
    }
  }
  return best;
}

function groupHelp(group: string): string | undefined {
  const specs = COMMANDS.filter((c) => c.words[0] === group);
  if (!specs.length) return undefined;
  return `${specs.map((c) => `  ${usageLine(c)}\n      ${c.summary}`).join('\n')}\n`;
}

export async function main(argv: string[]): Promise<number> {
  try {
    if (argv.length === 1 && ['--version', '-V', 'version'].includes(argv[0]!)) {
      out(`edgefleet ${cliVersion()}\n`);
      return 0;
    }
    let words: string[];
    try {
      words = commandWords(argv);
    } catch (err) {
      throw usageError(err instanceof Error ? err.message.split('\n')[0]! : String(err));
    }
    if (words[0] && GROUP_ALIASES[words[0]]) {
      const i = argv.indexOf(words[0]);
      argv = [...argv.slice(0, i), GROUP_ALIASES[words[0]]!, ...argv.slice(i + 1)];
      words = [GROUP_ALIASES[words[0]]!, ...words.slice(1)];
    }
    const wantsHelp = argv.includes('--help') || argv.includes('-h');
    if (words.length === 0 || words[0] === 'help') {
      if (words.length === 0 && !wantsHelp && argv.length) throw usageError(`no command given; see edgefleet --help`);
      out(globalHelp());
      return 0;
    }
    const found = findCommand(words);
    if (!found) {
      const group = groupHelp(words[0]!);
      if (group && wantsHelp) {
        out(group);
        return 0;
      }
      if (group) {
        const subs = [...new Set(COMMANDS.filter((c) => c.words[0] === words[0]).map((c) => c.words[1]))].join(', ');
        const what = words[1] === undefined ? `${words[0]} needs a command` : `unknown ${words[0]} command ${JSON.stringify(words[1])}`;
        throw usageError(`${what} (${subs}); see edgefleet ${words[0]} --help`);
      }
      throw usageError(`unknown command ${JSON.stringify(words[0])}; see edgefleet --help`);
    }
    const { pos, v } = parseCommand(found.spec, argv, found.count);
    if (v.help) {
      out(commandHelp(found.spec));
      return 0;
    }
    if (v.json && v.output === 'yaml') throw usageError(`${found.spec.words.join(' ')}: --json and -o yaml exclude each other`);
    if (v.output) {
      await setOutput(v.output as 'json' | 'yaml');
      v.json = true; // every command prints the API's answer on its --json path
    }
    try {
      await found.spec.run(pos, v);
    } catch (err) {
      const e = err instanceof EdgefleetError ? err : new EdgefleetError('INTERNAL', err instanceof Error ? err.message : String(err));
      process.stderr.write(`error ${e.code}: ${e.message.split('\n')[0]}\n`);
      return 1;
    }
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    // argument errors: nothing was sent or changed
    const e = err instanceof EdgefleetError ? err : usageError(String(err));
    process.stderr.write(`error ${e.code}: ${e.message.split('\n')[0]}\n`);
    return 2;
  }
}
