// Test resources: a hub on port 0 in a temp dir, an API client, device MQTT clients, a tiny real model.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { buildMlpClassifier } from '@edgefleet/protocol/onnx';
import { startHub, type Hub, type HubOptions } from '@edgefleet/hub';
import { TEST_KEK, testDb } from './support/test-db.js';

export { TEST_KEK };

const hubDbs = new Map<string, Database.Database>();
/**
 * A second connection to a test hub's SQLite file (`<data>/hub.db`): tests read what the hub committed, and plant
 * rows it could not have written, independently of the hub's own connection. Closed at process exit.
 */
export function hubDb(hub: { dataDir: string }): Database.Database {
  const file = join(hub.dataDir, 'hub.db');
  let db = hubDbs.get(file);
  if (!db?.open) {
    db = new Database(file);
    db.pragma('busy_timeout = 5000');
    hubDbs.set(file, db);
  }
  return db;
}

export function tempDir(prefix = 'edgefleet-hub-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** A hub on `dataDir` with ephemeral ports, on SQLite or on this test run's PostgreSQL (support/test-db.ts). */
export async function startTestHub(dataDir: string, extra: Partial<HubOptions> = {}): Promise<Hub> {
  const db = extra.db ?? (await testDb(dataDir));
  // on PostgreSQL the keys live in the database, sealed with a key-encryption key (trust/sealed.ts)
  return startHub({ dataDir, http: '127.0.0.1:0', mqtt: '127.0.0.1:0', ws: '127.0.0.1:0', ...(db ? { db, keys: { encryptionKey: TEST_KEK } } : {}), ...extra });
}

/** A 3-feature, 2-class softmax regression: small, real, deterministic. */
export function tinyModel(seed = 0): Uint8Array {
  return buildMlpClassifier({
    weights: [Float32Array.from([0.5, -0.5, 0.25 + seed / 100, -0.25, 1, -1])],
    biases: [Float32Array.from([0.1, -0.1])],
  });
}

export interface ApiResponse<T = any> {
  status: number;
  body: T;
}

export function apiClient(base: string, token: string) {
  const call = async <T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse<T>> => {
    const init: RequestInit = { method, headers: { authorization: `Bearer ${token}`, ...headers } };
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      init.body = JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] = 'application/json';
    }
    const res = await fetch(`${base}/api/v1${path}`, init);
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // binary or text bodies stay as they are
    }
    return { status: res.status, body: parsed as T };
  };
  return {
    get: <T = any>(path: string) => call<T>('GET', path),
    post: <T = any>(path: string, body?: unknown) => call<T>('POST', path, body),
    patch: <T = any>(path: string, body?: unknown) => call<T>('PATCH', path, body),
    put: <T = any>(path: string, body?: unknown) => call<T>('PUT', path, body),
    del: <T = any>(path: string) => call<T>('DELETE', path),
    pushModel: (bytes: Uint8Array, fields: Record<string, string>) => {
      const form = new FormData();
      form.set('file', new Blob([bytes]), 'model.onnx');
      for (const [k, v] of Object.entries(fields)) form.set(k, v);
      return call('POST', '/models', form);
    },
  };
}

/** Connect as a device; resolves on CONNACK, rejects on refusal. */
export function connectDevice(url: string, id: string, password: string, opts: mqtt.IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, {
      clientId: id,
      username: id,
      password,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ...opts,
    });
    client.once('connect', () => resolve(client));
    client.once('error', (err) => {
      client.end(true);
      reject(err);
    });
    client.once('close', () => reject(new Error('connection closed before CONNACK')));
  });
}

export async function waitFor<T>(fn: () => T | undefined | null | false | Promise<T | undefined | null | false>, what = 'condition', timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function endClient(c: MqttClient | undefined): Promise<void> {
  if (!c) return Promise.resolve();
  return new Promise((r) => c.end(true, {}, () => r()));
}
