// A failed-probation verdict that waits in the agent's work queue behind a newer desired state must not
// undo that state (regression for 30c0cb7). Real aedes broker, signed desired states, real onnxruntime;
// the only fakes are two faults in the runtime: v2.1.0 sessions start throwing, and the re-load of
// v2.0.0 waits on a gate so the verdict is judged while the newer desired state is being applied.

import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EdgefleetError } from '@edgefleet/protocol';
import { createAgent, type Agent } from '@edgefleet/agent';
import { createOnnxRuntime } from '../src/node/onnx-runtime.js';
import type { InferenceRuntime, ModelSession } from '../src/core/runtime.js';
import { classifier, floats, FEATURES, startHarness, type Harness } from './support/fleet-harness.js';

let h: Harness;
const agents: Agent[] = [];

beforeEach(async () => {
  h = await startHarness();
  await h.publishKeyring();
});

afterEach(async () => {
  for (const a of agents.splice(0)) await a.stop();
  await h.close();
});

const shaOf = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

describe('probation verdict queued behind a newer desired state', () => {
  it('does not roll back the version the newer desired state re-installed (hub rolled the wave back to 2.0.0)', async () => {
    const good = classifier(20);
    const bad = classifier(21);
    const goodSha = shaOf(good);
    const badSha = shaOf(bad);

    // Fault 1: sessions of 2.1.0 throw once `failing` is set (after their self-test passed).
    // Fault 2: when `gate` is armed, the next load of 2.0.0's bytes waits until the test opens it.
    let failing = false;
    let gate: { entered: () => void; open: Promise<void> } | null = null;
    const ort = createOnnxRuntime();
    const runtime: InferenceRuntime = {
      name: ort.name,
      async load(bytes) {
        const sha = shaOf(bytes);
        if (sha === goodSha && gate) {
          const g = gate;
          gate = null;
          g.entered();
          await g.open;
        }
        const s = await ort.load(bytes);
        if (sha !== badSha) return s;
        const wrapped: ModelSession = {
          inputs: s.inputs,
          outputs: s.outputs,
          run: (feeds, names) => (failing ? Promise.reject(new EdgefleetError('INFERENCE_FAILED', 'injected fault')) : s.run(feeds, names)),
          release: () => s.release(),
        };
        return wrapped;
      },
    };

    const lines: string[] = [];
    const agent = createAgent(h.agentConfig('dev-race'), {
      core: { retry: { baseMs: 100, maxMs: 1000 }, download: { timeoutMs: 300 } },
      reconnect: { initialMs: 50, maxMs: 500 },
      runtime,
      log: (l: string) => {
        lines.push(l);
        if (process.env.AGENT_LOG) console.log('dev-race', l);
      },
    });
    agents.push(agent);
    const active = (): string | undefined => agent.core.slots().m?.active?.version;

    const m20 = await h.manifest({ name: 'm', version: '2.0.0', release: 1, bytes: good });
    const m21 = await h.manifest({ name: 'm', version: '2.1.0', release: 2, bytes: bad });
    const telemetry = { probationSeconds: 300, probationMinInferences: 10, probationMaxErrorRate: 0.2 };
    await agent.start();
    await h.desired('dev-race', [{ envelope: m20.envelope }], { telemetry });
    await agent.core.waitFor(() => active() === '2.0.0');
    await h.desired('dev-race', [{ envelope: m21.envelope }], { telemetry });
    await agent.core.waitFor(() => active() === '2.1.0' && agent.core.slots().m!.state === 'probation');
    expect(agent.core.slots().m!.previous?.version).toBe('2.0.0');

    // The hub rolls the wave back: a newer desired state names 2.0.0 again. Its install (2.0.0 is still
    // on disk as `previous`) holds the agent's work queue while it loads the session, at the gate.
    let entered!: () => void;
    const atGate = new Promise<void>((r) => (entered = r));
    let openGate!: () => void;
    gate = { entered, open: new Promise<void>((r) => (openGate = r)) };
    await h.desired('dev-race', [{ envelope: m20.envelope }], { telemetry });
    await atGate;

    // Meanwhile 2.1.0, still active and on probation, fails every request: the verdict is "roll back to
    // previous", and that rollback is queued behind the 2.0.0 install.
    failing = true;
    const feeds = { features: { type: 'float32' as const, dims: [1, FEATURES], data: floats(FEATURES, 4) } };
    for (let i = 0; i < 10; i++) await expect(agent.infer('m', feeds)).rejects.toMatchObject({ code: 'INFERENCE_FAILED' });
    expect(active()).toBe('2.1.0'); // verdict queued, not yet run

    openGate();
    await agent.core.waitFor(() => h.events('dev-race').filter((e) => e.type === 'activated').map((e) => e.version).join(',') === '2.0.0,2.1.0,2.0.0');

    // Barrier: a command enqueued now runs after every verdict queued above, so once it has been handled
    // the stale verdict has had its turn.
    await h.command('dev-race', 'flush-telemetry');
    await agent.core.waitFor(() => lines.some((l) => l.startsWith('command flush-telemetry')));

    const slot = agent.core.slots().m!;
    expect(slot.active?.version).toBe('2.0.0');
    expect(slot.previous?.version).toBe('2.1.0');
    expect(slot.state).toBe('probation');
    expect(slot.error).toBeNull();
    expect(agent.core.counters['event.rolled-back'] ?? 0).toBe(0);
    const r = await agent.infer('m', feeds);
    expect(r.version).toBe('2.0.0');
  });
});
