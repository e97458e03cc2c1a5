// The browser assembly on the agent core: config checks, the platform name, persist() asked once (false is
// no error), storage quota and usage in the reported resources, events tapped for the page, offline start.
import { createMemoryStore, type InferenceRuntime, type Transport } from '@edgefleet/agent/core';
import { createSha256, DeviceEvent, EdgefleetError, ReportedState, topics } from '@edgefleet/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { assembleWebAgent, browserPlatform, type WebAdapters, type WebAgent } from '../src/assemble.js';
import { parseWebAgentConfig } from '../src/config.js';
import { answer, snapshotOf } from '../src/service.js';
import { AgentSnapshot } from '../src/messages.js';
import { config } from './support.js';

const offline = (): Transport & { opts?: unknown } => ({
  connected: false,
  connect() {},
  async close() {},
  async publish() {
    throw new Error('not connected');
  },
  async subscribe() {
    throw new Error('not connected');
  },
  onMessage() {},
  onConnect() {},
  onDisconnect() {},
});
/** A broker that accepts everything and keeps what was published. */
const online = (published: [string, string][]): Transport => {
  const onConnect: (() => void)[] = [];
  let up = false;
  return {
    get connected() {
      return up;
    },
    connect() {
      up = true;
      setTimeout(() => onConnect.forEach((h) => h()), 0);
    },
    async close() {
      up = false;
    },
    async publish(topic, payload) {
      published.push([topic, typeof payload === 'string' ? payload : new TextDecoder().decode(payload)]);
    },
    async subscribe(list) {
      return list.map((topic) => ({ topic, ok: true }));
    },
    onMessage() {},
    onConnect: (h) => void onConnect.push(h),
    onDisconnect() {},
  };
};
const runtime: InferenceRuntime = {
  name: 'onnxruntime-web@test',
  async load() {
    throw new EdgefleetError('MODEL_LOAD_FAILED', 'none');
  },
};

function adapters(seen: { transport?: unknown; store?: unknown; runtime?: unknown }): WebAdapters {
  return {
    openStore: async (o) => ((seen.store = o), createMemoryStore()),
    createRuntime: (o) => ((seen.runtime = o), runtime),
    createTransport: (o) => ((seen.transport = o), offline()),
    sha256Stream: () => createSha256(),
  };
}

const started: WebAgent[] = [];
afterEach(async () => {
  for (const a of started.splice(0)) await a.stop();
});

describe('assembleWebAgent', () => {
  it('refuses a config without a ws broker or with a bad root key, with BAD_INPUT', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return `${(e as EdgefleetError).code}: ${(e as Error).message}`;
      }
      return 'accepted';
    };
    expect(code(() => parseWebAgentConfig({ ...config, brokers: { tcp: 'mqtt://h:1883' } }))).toMatch(/^BAD_INPUT: .*brokers\.ws/);
    expect(code(() => parseWebAgentConfig({ ...config, brokers: { ws: 'http://h/mqtt' } }))).toMatch(/^BAD_INPUT/);
    expect(code(() => parseWebAgentConfig({ ...config, rootPublicKey: 'AAAA' }))).toMatch(/^BAD_INPUT: .*32 bytes/);
    expect(code(() => parseWebAgentConfig({ ...config, password: 'short' }))).toMatch(/^BAD_INPUT: invalid agent config: password/);
    expect(code(() => parseWebAgentConfig(config))).toBe('accepted');
  });

  it('names the platform from client hints, else browser-web', () => {
    expect(browserPlatform({ userAgentData: { platform: 'Android' } })).toBe('browser-android');
    expect(browserPlatform({ userAgentData: { platform: 'Chrome OS' } })).toBe('browser-chrome-os');
    expect(browserPlatform({})).toBe('browser-web');
    expect(browserPlatform(undefined)).toBe('browser-web');
  });

  it('starts offline, asks persist() once, reports quota and usage, and wires a last will on the ws broker', async () => {
    let asked = 0;
    const seen: { transport?: unknown; store?: unknown; runtime?: unknown } = {};
    const events: string[] = [];
    const agent = await assembleWebAgent(
      {
        config,
        wasmPaths: '/device/assets/ort-x/',
        storage: { persist: async () => (asked++, false), persisted: async () => false, estimate: async () => ({ quota: 5000, usage: 1200 }) },
        onEvent: (e) => events.push(`${e.type} ${e.message}`),
        log: () => {},
      },
      adapters(seen),
    );
    started.push(agent);
    expect(asked).toBe(1);
    expect(agent.persisted).toBe(false);
    expect(agent.connected).toBe(false);
    expect(seen.transport).toMatchObject({ urls: [config.brokers.ws], clientId: config.deviceId, will: { topic: topics.status(config.deviceId), payload: 'offline', retain: true, qos: 1 } });
    expect(seen.store).toMatchObject({ name: `edgefleet-agent:${config.deviceId}` });
    expect(seen.runtime).toEqual({ wasmPaths: '/device/assets/ort-x/', numThreads: 1 });
    const r = ReportedState.parse(agent.reported());
    expect(r.platform).toBe('browser-web');
    expect(r.runtime).toBe('onnxruntime-web@test');
    // the snapshot a page shows crosses the tab boundary: it must pass its own schema
    const snap = AgentSnapshot.parse(snapshotOf(agent));
    expect(snap.persisted).toBe(false);
    expect((await answer(agent, { op: 'status' })).result).toMatchObject({ connected: false });
    await expect(answer(agent, { op: 'infer', model: 'nope', inputs: {} })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('hands every event the core emits to onEvent, as the hub receives it', async () => {
    const events: DeviceEvent[] = [];
    const refusing: Transport = { ...online([]), subscribe: async (list) => list.map((topic) => ({ topic, ok: false, reason: 'SUBACK 128' })) };
    const agent = await assembleWebAgent({ config, transport: refusing, store: createMemoryStore(), runtime, onEvent: (e) => events.push(e) }, adapters({}));
    started.push(agent);
    await expect.poll(() => events.length).toBeGreaterThan(0);
    expect(events[0]).toMatchObject({ type: 'error', code: 'FORBIDDEN' });
    expect(DeviceEvent.safeParse(events[0]).success).toBe(true);
  });

  it('publishes the origin storage quota and usage in the reported state', async () => {
    const published: [string, string][] = [];
    const agent = await assembleWebAgent({ config, transport: online(published), store: createMemoryStore(), runtime, storage: { estimate: async () => ({ quota: 5000, usage: 1200 }) } }, adapters({}));
    started.push(agent);
    const reportedTopic = topics.reported(config.deviceId);
    const end = Date.now() + 10_000;
    while (!published.some(([t]) => t === reportedTopic) && Date.now() < end) await new Promise((res) => setTimeout(res, 10));
    const body = ReportedState.parse(JSON.parse(published.find(([t]) => t === reportedTopic)![1]));
    expect(body.resources).toMatchObject({ storageQuotaBytes: 5000, storageUsageBytes: 1200, diskFreeBytes: 3800 });
    expect(body.platform).toBe('browser-web');
  });

  it('reports the storage estimate as resources', async () => {
    const { storageResources } = await import('../src/assemble.js');
    expect(await storageResources({ estimate: async () => ({ quota: 5000, usage: 1200 }) }, 0, 2000)).toEqual({ uptimeSeconds: 2, storageQuotaBytes: 5000, storageUsageBytes: 1200, diskFreeBytes: 3800 });
    expect(await storageResources({ estimate: async () => Promise.reject(new Error('no')) }, 0, 0)).toEqual({ uptimeSeconds: 0 });
    expect(await storageResources(undefined, 0, 0)).toEqual({ uptimeSeconds: 0 });
  });

  it('answers UNAVAILABLE with the reason while the agent is not started', async () => {
    await expect(answer(null, { op: 'label', model: 'm', predictionId: 'p', label: 1 }, { code: 'MODEL_LOAD_FAILED', message: 'wasm 404' })).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('wasm 404') });
  });
});
