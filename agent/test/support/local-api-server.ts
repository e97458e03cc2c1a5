// A local API over real onnxruntime sessions, as a resource a test starts and always disposes.

import { createOnnxRuntime } from '../../src/node/onnx-runtime.js';
import { startLocalApi, type LocalApi, type LocalApiOptions } from '../../src/node/local-api.js';
import type { ModelSession } from '../../src/core/runtime.js';
import type { Reference } from '@edgefleet/protocol';
import { createSessionService, type SessionService } from './session-service.js';

export interface TestServer {
  api: LocalApi;
  service: SessionService;
  sessions: ModelSession[];
  post(path: string, body: unknown): Promise<{ status: number; json: any }>;
  get(path: string): Promise<{ status: number; json: any }>;
  close(): Promise<void>;
}

export async function startTestServer(
  models: { name: string; version: string; bytes: Uint8Array; reference?: Reference; labels?: string[] }[],
  options: LocalApiOptions = {},
): Promise<TestServer> {
  const runtime = createOnnxRuntime();
  const sessions: ModelSession[] = [];
  for (const m of models) sessions.push(await runtime.load(m.bytes));
  const service = createSessionService(
    models.map((m, i) => ({ name: m.name, version: m.version, session: sessions[i]!, ...(m.reference ? { reference: m.reference } : {}), ...(m.labels ? { labels: m.labels } : {}) })),
  );
  const api = await startLocalApi(service, options);
  const read = async (res: Response): Promise<{ status: number; json: any }> => {
    const text = await res.text();
    return { status: res.status, json: text.length > 0 ? JSON.parse(text) : null };
  };
  return {
    api,
    service,
    sessions,
    post: async (path, body) =>
      read(
        await fetch(api.url + path, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: typeof body === 'string' ? body : JSON.stringify(body),
        }),
      ),
    get: async (path) => read(await fetch(api.url + path)),
    async close() {
      await api.close();
      for (const s of sessions) await s.release();
    },
  };
}
