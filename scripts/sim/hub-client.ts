// A small client of the hub's HTTP API (design §7) for the simulator, the demo, benchmarks and tests:
// enrol devices, push models, start and watch rollouts, read fleet status and health.

import { request as httpRequest } from 'node:http';
import type { AgentConfig } from '@edgefleet/protocol';

/**
 * One request on a fresh connection. Not fetch: its pooled keep-alive sockets race the server's idle
 * timeout when the caller shares the hub's event loop and blocks it for seconds (starting hundreds of
 * agents), and a POST on a socket the server just closed fails with ECONNRESET instead of being retried.
 */
function send(url: string, method: string, headers: Record<string, string>, body?: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export class HubApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface PushModelInput {
  name: string;
  version: string;
  file: Uint8Array;
  validation?: string;
  sample?: unknown;
  labels?: readonly string[];
  minAccuracy?: number;
  dataset?: string;
  run?: string;
  commit?: string;
}

export interface RolloutInput {
  model: string;
  version: string;
  targets: { all?: boolean; tags?: Record<string, string>[]; devices?: string[] };
  waves?: number[];
  soak?: string | number;
  onFail?: 'pause' | 'rollback';
  /** How long a wave whose gates lack evidence soaks on for it (default 6 × soak, at most soak + 1 h). */
  maxSoak?: string | number;
  /** At the max soak, gates still lacking evidence: pause (the hub's default), pass, or fail. */
  onNoEvidence?: 'pause' | 'pass' | 'fail';
  shadow?: boolean;
  /** Partial gate config (hub/src/rollouts/gate-config.ts GateConfig). */
  gates?: Record<string, number | string[]>;
  deviceTimeout?: string | number;
}

/** The rollout as GET /rollouts/:id returns it; waves and gates appear once the gated engine serves them. */
export interface RolloutInfo {
  id: string;
  model: string;
  version: string;
  status: string;
  devices?: number;
  [k: string]: unknown;
}

export interface HubClient {
  readonly url: string;
  request<T>(method: string, path: string, body?: unknown): Promise<T>;
  addDevice(id: string, tags?: Record<string, string>): Promise<{ token: string; agentConfig: AgentConfig }>;
  pushModel(input: PushModelInput): Promise<{ sha256: string; release: number; [k: string]: unknown }>;
  startRollout(input: RolloutInput): Promise<RolloutInfo>;
  rollout(id: string): Promise<RolloutInfo>;
  devices(): Promise<Array<{ id: string; status: string; tags: Record<string, string>; reported: unknown }>>;
  fleetStatus(): Promise<FleetStatusView>;
  /** GET /api/v1/health for one version, or null when this hub has no health API. */
  health(model: string, version: string, extra?: Record<string, string>): Promise<HealthView | null>;
}

export interface FleetStatusView {
  devices: { total: number; online: number; offline: number };
  versions: Array<{ model: string; version: string; devices: number }>;
  health: Array<{ model: string; version: string; role: string; inferences: number; errors: number; errorRate: number | null; latencyMs: { p50: number | null; p95: number | null; p99: number | null }; reportingDevices: number }>;
  rollouts: { total: number; active: number };
}

export interface HealthView {
  totals: { devices: number; inferences: number; errors: number; errorRate: number | null; latencyMs: { p50: number | null; p95: number | null } };
  drift: Array<{ feature: string; psi: number; critical: number | null; verdict: string; n: number }>;
  accuracy: { labelled: number; correct: number; p: number | null; low: number | null; high: number | null };
}

export function createHubClient(url: string, token: string): HubClient {
  const base = url.replace(/\/$/, '');
  const request = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    let payload: Buffer | undefined;
    if (body instanceof FormData) {
      // let the platform encode the multipart body, then send it ourselves
      const encoded = new Request('http://localhost/', { method: 'POST', body });
      payload = Buffer.from(await encoded.arrayBuffer());
      headers['content-type'] = encoded.headers.get('content-type')!;
    } else if (body !== undefined) {
      payload = Buffer.from(JSON.stringify(body));
      headers['content-type'] = 'application/json';
    }
    const { status, text } = await send(`${base}${path}`, method, headers, payload);
    const res = { ok: status >= 200 && status < 300, status };
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: reported below
    }
    if (!res.ok) {
      const e = (json as { error?: { code?: string; message?: string } } | null)?.error;
      throw new HubApiError(res.status, e?.code ?? 'HTTP', `${method} ${path}: ${res.status} ${e?.code ?? ''} ${e?.message ?? text.slice(0, 200)}`);
    }
    return json as T;
  };
  return {
    url: base,
    request,
    addDevice: (id, tags = {}) => request('POST', '/api/v1/devices', { id, tags }),
    async pushModel(m) {
      const form = new FormData();
      form.set('file', new Blob([m.file as Uint8Array<ArrayBuffer>]), `${m.name}-${m.version}.onnx`);
      form.set('name', m.name);
      form.set('version', m.version);
      if (m.validation) form.set('validation', m.validation);
      if (m.sample !== undefined) form.set('sample', JSON.stringify(m.sample));
      if (m.labels) form.set('labels', JSON.stringify(m.labels));
      if (m.minAccuracy !== undefined) form.set('minAccuracy', String(m.minAccuracy));
      for (const k of ['dataset', 'run', 'commit'] as const) if (m[k]) form.set(k, m[k]);
      return request('POST', '/api/v1/models', form);
    },
    startRollout: async (input) => (await request<{ rollout: RolloutInfo }>('POST', '/api/v1/rollouts', input)).rollout,
    rollout: async (id) => (await request<{ rollout: RolloutInfo }>('GET', `/api/v1/rollouts/${encodeURIComponent(id)}`)).rollout,
    devices: async () => (await request<{ devices: Array<{ id: string; status: string; tags: Record<string, string>; reported: unknown }> }>('GET', '/api/v1/devices')).devices,
    fleetStatus: () => request('GET', '/api/v1/fleet/status'),
    async health(model, version, extra = {}) {
      const q = new URLSearchParams({ model, version, ...extra });
      try {
        return await request<HealthView>('GET', `/api/v1/health?${q}`);
      } catch (err) {
        if (err instanceof HubApiError && err.status === 404) return null;
        throw err;
      }
    },
  };
}
