// The built `edgefleet-agent` bin as a child process: started with a config and data dir, its local API
// URL read from its start line, stopped with SIGKILL or SIGTERM. Tests push every child into `children`
// and kill what is left in afterEach.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

export const AGENT_BIN = fileURLToPath(new URL('../../bin/edgefleet-agent.js', import.meta.url));
export const AGENT_DIST = fileURLToPath(new URL('../../dist/bin.js', import.meta.url));
export const agentBuilt = (): boolean => fs.existsSync(AGENT_DIST);

export interface AgentChild {
  child: ChildProcess;
  api: string;
  /** Everything the agent wrote to stderr so far (its log without --quiet). */
  stderr(): string;
}

export function startAgentChild(children: ChildProcess[], configFile: string, dataDir: string, options: { quiet?: boolean } = {}): Promise<AgentChild> {
  const args = [AGENT_BIN, '--config', configFile, '--data', dataDir, '--api', '127.0.0.1:0', ...(options.quiet === false ? [] : ['--quiet'])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /api=(http:\/\/\S+)/.exec(out);
      if (m) resolve({ child, api: m[1]!, stderr: () => err });
    });
    child.on('exit', (code, signal) => reject(new Error(`agent exited (${code ?? signal}) before it started: ${err}`)));
  });
}

export const alive = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null;

export async function kill9(child: ChildProcess): Promise<void> {
  if (!alive(child)) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await gone;
}

export async function until(pred: () => boolean | Promise<boolean>, ms = 30_000, what = 'condition'): Promise<void> {
  const t0 = Date.now();
  while (!(await pred())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
