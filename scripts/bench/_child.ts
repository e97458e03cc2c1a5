// The bench's child processes (scripts/bench/_fanout-child.ts, design §11): a hub, a bare broker, an agent or
// the bare steps each in a process of its own, so what one measures (CPU, timings) is not shared with the others.

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./_fanout-child.ts', import.meta.url));

export interface Child {
  first: Record<string, unknown>;
  ask(line: string): Promise<Record<string, unknown>>;
  send(line: string): void;
  exit(): Promise<void>;
}

/** One `_fanout-child.ts` process: its first JSON line, then one answer line per "cpu". */
export async function startChild(mode: string, arg?: string): Promise<Child> {
  // EDGEFLEET_BENCH_PROFILE=DIR: a CPU profile of each child (node --cpu-prof), for the notes on a missed goal
  const prof = process.env.EDGEFLEET_BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.EDGEFLEET_BENCH_PROFILE] : [];
  const child: ChildProcess = spawn(process.execPath, [...prof, '--import', 'tsx', CHILD, mode, ...(arg ? [arg] : [])], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const waiting: Array<{ resolve: (l: string) => void; reject: (err: Error) => void }> = [];
  lines.on('line', (l) => waiting.shift()?.resolve(l));
  child.once('exit', (code) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`${mode} child exited (${String(code)})`));
  });
  const next = () => new Promise<Record<string, unknown>>((resolve, reject) => {
    waiting.push({ resolve: (l) => resolve(JSON.parse(l) as Record<string, unknown>), reject });
  });
  const first = await next();
  return {
    first,
    ask: (line) => {
      const p = next();
      child.stdin!.write(line + '\n');
      return p;
    },
    send: (line) => child.stdin!.write(line + '\n'),
    exit: async () => {
      if (child.exitCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.stdin!.write('exit\n');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 10_000))]);
      child.kill('SIGKILL');
    },
  };
}
