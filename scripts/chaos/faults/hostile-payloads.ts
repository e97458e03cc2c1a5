// The hostile device's payloads, in the order they are sent. Each is a list of steps (one connection
// each, half a second apart, so an earlier step is committed before the next arrives). Every device-
// supplied size and index below is one the hub must bound before it allocates or stores anything.

import type { createWindow as CreateWindow, LIMITS as Limits, topics as Topics, TelemetryWindow } from '@edgefleet/protocol';
import Database from 'better-sqlite3';
import type { HubClient } from '../../sim/hub-client.js';

export interface Message {
  topic: string;
  body: string | Buffer;
  retain?: boolean;
}

export interface PayloadEnv {
  model: string;
  version: string;
  now: number;
  window: typeof CreateWindow;
  topics: typeof Topics;
  limits: typeof Limits;
}

/** What a payload's finding may look at once the hub survived it. */
export interface Probe {
  api: HubClient;
  deviceId: string;
  /** The hub's SQLite file (read-only). */
  dbFile: string;
}

export interface Payload {
  name: string;
  messages(deviceId: string, env: PayloadEnv): Message[][];
  /** A finding to report (something the hub accepted but should not have), or null. */
  finding?(probe: Probe): Promise<string | null>;
}

function countRows(dbFile: string, sql: string, ...args: unknown[]): number {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare(sql).get(...args) as { n: number }).n;
  } finally {
    db.close();
  }
}

const MINUTE = 60_000;
let seq = 1_000_000;

function win(env: PayloadEnv, start: number, patch: Partial<TelemetryWindow> = {}, latency: Partial<TelemetryWindow['latencyMs']> = {}): TelemetryWindow {
  const w = env.window(env.model, env.version, 'active', start, start + 5000);
  w.inferences = 5;
  w.latencyMs = { ...w.latencyMs, count: 5, sum: 10, min: 1, max: 3, offset: 0, counts: [5], ...latency };
  return { ...w, ...patch };
}

const telemetry = (id: string, env: PayloadEnv, windows: unknown[], extra: Record<string, unknown> = {}): Message => ({
  topic: env.topics.telemetry(id),
  body: JSON.stringify({ deviceId: id, seq: seq++, windows, dropped: 0, ...extra }),
});

export const PAYLOADS: Payload[] = [
  {
    name: 'not-json',
    messages: (id, env) => [[{ topic: env.topics.telemetry(id), body: '{"deviceId": ' + '['.repeat(5000) }, { topic: env.topics.events(id), body: Buffer.from([0xff, 0xfe, 0x00]) }]],
  },
  {
    name: 'wrong-types-and-proto-keys',
    messages: (id, env) => [
      [
        { topic: env.topics.telemetry(id), body: `{"deviceId":"${id}","seq":-1,"windows":[{"model":{},"version":5,"__proto__":{"polluted":true}}],"constructor":{"prototype":{"x":1}}}` },
        { topic: env.topics.reported(id), body: '{"__proto__":{"isAdmin":true},"deviceId":7}', retain: true },
      ],
    ],
  },
  {
    name: 'oversized-telemetry',
    messages: (id, env) => [[telemetry(id, env, [], { pad: 'x'.repeat(env.limits.telemetry + 1024) })]],
  },
  {
    name: 'over-the-packet-cap',
    messages: (id, env) => [[{ topic: env.topics.events(id), body: Buffer.alloc(env.limits.mqttPacket + 512 * 1024, 0x61) }]],
  },
  {
    name: 'absurd-counts',
    messages: (id, env) => [
      [
        telemetry(id, env, [
          win(env, env.now - 30_000, { inferences: 9e15, start: env.now, end: env.now - 50_000, errors: { INFERENCE_FAILED: 9e15 } }, { count: 9e15, sum: 1e300, counts: Array(8192).fill(9e15) }),
        ]),
      ],
    ],
  },
  {
    name: 'windows-far-from-now',
    messages: (id, env) => [[telemetry(id, env, [win(env, 0), win(env, 1e13), win(env, 8.64e15 - 10_000)])]],
  },
  {
    name: 'class-and-confusion-bombs',
    messages: (id, env) => [
      [
        telemetry(id, env, [
          win(env, env.now - 20_000, {
            outputs: { classCounts: Array(4096).fill(1e15) },
            labels: { labelled: 1e15, correct: 1e15, confusion: Array.from({ length: 14_000 }, (_, i) => [999_999_999 - i, 999_999_999, 1]) },
          } as Partial<TelemetryWindow>),
        ]),
      ],
    ],
  },
  {
    name: 'feature-bomb',
    messages: (id, env) => [
      [
        telemetry(id, env, [
          win(env, env.now - 20_000, {
            features: Object.fromEntries(
              Array.from({ length: 1500 }, (_, i) => [`f${i}`, { bins: Array(65).fill(7), nulls: 0, count: 455, sum: 1, sumSq: 1, min: 0, max: 1 }]),
            ),
          } as Partial<TelemetryWindow>),
        ]),
      ],
    ],
  },
  {
    // two sub-histograms ~5e8 buckets apart in one batch, same rollup minute: merged at ingest
    name: 'histogram-gap-in-one-batch',
    messages: (id, env) => [[telemetry(id, env, [win(env, env.now - 20_000), win(env, env.now - 15_000, {}, { offset: 500_000_000 })])]],
  },
  {
    // a rollup exists, then a window with a huge offset for the same minute is merged into it
    name: 'huge-offset-into-a-stored-rollup',
    messages: (id, env) => [[telemetry(id, env, [win(env, env.now - 20_000)])], [telemetry(id, env, [win(env, env.now - 18_000, {}, { offset: 500_000_000 })])]],
  },
  {
    // two minutes' rollups stored apart (no merge at ingest: minutes no other payload wrote), merged by
    // every fleet status and health read since
    name: 'huge-offset-in-its-own-rollup',
    messages: (id, env) => [[telemetry(id, env, [win(env, env.now - 4 * MINUTE - 10_000), win(env, env.now - 3 * MINUTE + 10_000, {}, { offset: -500_000_000 })])]],
  },
  {
    name: 'events-flood',
    messages: (id, env) => [
      Array.from({ length: 2000 }, (_, i) => ({
        topic: env.topics.events(id),
        body: JSON.stringify({ type: 'rolled-back', model: env.model, version: env.version, code: 'PROBATION_FAILED', message: `flood ${i} ${'x'.repeat(1900)}`, at: new Date(env.now).toISOString() }),
      })),
    ],
    finding: async ({ dbFile, deviceId }) => {
      const n = countRows(dbFile, 'SELECT COUNT(*) AS n FROM events WHERE device_id = ?', deviceId);
      // the hub's default per-device event burst is 300 (hub/src/rate-limit.ts), then 1 per second
      return n > 310 ? `${n} of 2000 flood events from one device were stored (no per-device limit)` : null;
    },
  },
  {
    name: 'claims-a-version-it-never-downloaded',
    messages: (id, env) => [
      [
        {
          topic: env.topics.reported(id),
          retain: true,
          body: JSON.stringify({
            deviceId: id,
            agentVersion: '0.1.0',
            runtime: 'onnxruntime-node',
            platform: 'linux-x64',
            desiredSequence: 999_999,
            keyringVersion: 999,
            models: { [env.model]: { active: { version: '9.9.9', release: 999, sha256: '0'.repeat(64) }, previous: null, shadow: null, pending: null, state: 'active', error: null } },
            resources: { diskFreeBytes: 1e18 },
            at: new Date(env.now).toISOString(),
          }),
        },
      ],
    ],
    finding: async ({ api }) => {
      const v = (await api.fleetStatus()).versions.find((x: { version: string }) => x.version === '9.9.9');
      return v ? `fleet status counts ${v.devices} device(s) on ${v.model}@9.9.9, a version that does not exist` : null;
    },
  },
  {
    name: 'artifact-get-abuse',
    messages: (id, env) => [
      Array.from({ length: 300 }, (_, i) => ({
        topic: env.topics.artifactGet(id),
        body: JSON.stringify({ sha256: (i % 2 ? 'f' : '0').repeat(64), chunks: Array.from({ length: 64 }, (_, k) => 4_294_967_295 - k) }),
      })),
    ],
  },
  {
    name: 'status-garbage',
    messages: (id, env) => [[{ topic: env.topics.status(id), body: 'x'.repeat(1000), retain: true }, { topic: env.topics.status(id), body: '"online"'.repeat(3) }]],
  },
];
