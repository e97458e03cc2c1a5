// Install as design §5's ordered steps, and the step runner that keeps the queued ones together.

import { describe, expect, it } from 'vitest';
import { INSTALL_STEPS, runSteps, type Step } from './install.js';

describe('install steps', () => {
  it('follow design §5: free disk → download and verify → fresh session → self-test → warm up → swap', () => {
    expect(INSTALL_STEPS.map((s) => s.name)).toEqual([
      'record manifest',
      'report downloading',
      'check free disk',
      'download and verify',
      're-read verified bytes',
      'load in a fresh session',
      'self-test',
      'warm up',
      'swap',
      'remove unused versions',
    ]);
    // the download runs outside the queue; everything from the re-read to the swap is one queued job
    expect(INSTALL_STEPS.filter((s) => !s.exclusive).map((s) => s.name)).toEqual(['record manifest', 'check free disk', 'download and verify']);
  });

  it('runs the steps in order, consecutive exclusive ones as one queued job', async () => {
    const seen: string[] = [];
    const step = (name: string, exclusive = false): Step<string[], null> => ({ name, exclusive, run: async (log) => void log.push(name) });
    const enqueue = async (fn: () => Promise<void>): Promise<void> => {
      seen.push('[');
      await fn();
      seen.push(']');
    };
    await runSteps([step('a'), step('b', true), step('c', true), step('d'), step('e', true)], seen, null, enqueue);
    expect(seen.join(' ')).toBe('a [ b c ] d [ e ]');
  });

  it('stops at the first step that throws', async () => {
    const ran: string[] = [];
    const steps: Step<null, null>[] = [
      { name: 'ok', run: async () => void ran.push('ok') },
      { name: 'fails', exclusive: true, run: async () => Promise.reject(new Error('no')) },
      { name: 'never', exclusive: true, run: async () => void ran.push('never') },
    ];
    await expect(runSteps(steps, null, null, (fn) => fn())).rejects.toThrow('no');
    expect(ran).toEqual(['ok']);
  });
});
