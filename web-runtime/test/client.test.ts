// One agent per device id across tabs: the tab holding the Web Lock runs the one Worker (one MQTT
// connection), another tab infers through it over the BroadcastChannel, a malformed tab message is refused
// with BAD_MESSAGE, and when the leader closes the next tab takes over. Node's BroadcastChannel is real.
import { afterEach, describe, expect, it } from 'vitest';
import { createAgentClient, type AgentClient } from '../src/client.js';
import type { AgentSnapshot } from '../src/messages.js';
import { config, fakeLocks, fakeWorkers, until } from './support.js';

const open: AgentClient[] = [];
const channels: BroadcastChannel[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c.close();
  for (const ch of channels.splice(0)) ch.close();
});

function tabs() {
  const locks = fakeLocks();
  const workers = fakeWorkers();
  const tab = (tabId: string) => {
    const c = createAgentClient({ config, workerUrl: 'worker.js', locks, createWorker: workers.create, tabId, requestTimeoutMs: 2000 });
    open.push(c);
    return c;
  };
  return { tab, workers };
}

describe('the agent client across tabs', () => {
  it('runs one worker for two tabs of one device, and both can infer', async () => {
    const { tab, workers } = tabs();
    const a = tab('tab-a');
    await until(() => a.role === 'leader');
    const b = tab('tab-b');
    const states: AgentSnapshot[] = [];
    b.onState((s) => states.push(s));
    expect(b.role).toBe('follower');

    const viaB = await b.infer('m', { x: { type: 'float32', dims: [2], data: new Float32Array([1, 2]) } });
    expect(viaB.id).toBe('worker-1');
    expect(Array.from(viaB.outputs.y!.data as Float32Array)).toEqual([2, 4]);
    const input = new Float32Array([3]);
    const viaA = await a.infer('m', { x: { type: 'float32', dims: [1], data: input } });
    expect(Array.from(viaA.outputs.y!.data as Float32Array)).toEqual([6]);
    expect(input.byteLength).toBe(0); // the leader's own call transferred its buffer to the worker
    expect(workers.all.length).toBe(1);
    // the follower's call went through the leader's worker: the one agent
    expect(workers.all[0]!.received.filter((m) => (m as { kind: string }).kind === 'call').length).toBe(2);
  });

  it('answers a malformed request from another tab with BAD_MESSAGE and counts it', async () => {
    const { tab, workers } = tabs();
    const a = tab('tab-a');
    await until(() => a.role === 'leader');
    const rogue = new BroadcastChannel(`edgefleet-agent:${config.deviceId}`);
    channels.push(rogue);
    const replies: unknown[] = [];
    rogue.onmessage = (ev) => replies.push(ev.data);
    rogue.postMessage({ kind: 'request', from: 'rogue', id: 7, request: { op: 'infer', model: 'm', inputs: { x: { type: 'float32', dims: [3], data: new Float32Array(1) } } } });
    rogue.postMessage({ kind: 'nonsense' });
    await until(() => (a.refused.BAD_MESSAGE ?? 0) === 2);
    await until(() => replies.some((r) => (r as { kind: string }).kind === 'reply'));
    const reply = replies.find((r) => (r as { kind: string }).kind === 'reply') as { to: string; id: number; ok: boolean; error: { code: string; message: string } };
    expect(reply).toMatchObject({ to: 'rogue', id: 7, ok: false, error: { code: 'BAD_MESSAGE' } });
    expect(reply.error.message).toContain('dims [3] need 3');
    // nothing malformed reached the agent
    expect(workers.all[0]!.received.filter((m) => (m as { kind: string }).kind === 'call')).toEqual([]);
  });

  it('hands the device to the next tab when the leader closes', async () => {
    const { tab, workers } = tabs();
    const a = tab('tab-a');
    await until(() => a.role === 'leader');
    const b = tab('tab-b');
    await a.close();
    expect(workers.all[0]!.terminated).toBe(true);
    expect(workers.all[0]!.received.some((m) => (m as { kind: string }).kind === 'stop')).toBe(true);
    await until(() => b.role === 'leader');
    expect(workers.all.length).toBe(2);
    const r = await b.infer('m', { x: { type: 'float32', dims: [1], data: new Float32Array([5]) } });
    expect(r.id).toBe('worker-2');
  });

  it('refuses a config that is not one before it starts anything', () => {
    expect(() => createAgentClient({ config: { ...config, brokers: { tcp: 'mqtt://h:1883' } }, workerUrl: 'w.js', locks: fakeLocks() })).toThrow(/brokers\.ws/);
  });
});
