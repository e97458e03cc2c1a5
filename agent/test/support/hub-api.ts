// The hub's HTTP API as the admin, for agent tests that run a real hub in-process (design §7 `/api/v1`).
import type { Hub } from '@edgefleet/hub';

export interface HubApi {
  get(path: string): Promise<{ status: number; body: any }>;
  post(path: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** `model push` as the CLI does it: multipart `file`, `name`, `version` and any further fields. */
  push(bytes: Uint8Array, name: string, version: string, extra?: Record<string, string>): Promise<{ status: number; body: any }>;
}

export function hubApi(hub: Hub): HubApi {
  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const init: RequestInit = { method, headers: { authorization: `Bearer ${hub.adminToken}` } };
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      init.body = JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] = 'application/json';
    }
    const res = await fetch(`${hub.urls.http}/api/v1${path}`, init);
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  return {
    get: (p) => call('GET', p),
    post: (p, b) => call('POST', p, b),
    push: (bytes, name, version, extra = {}) => {
      const form = new FormData();
      form.set('file', new Blob([bytes as Uint8Array<ArrayBuffer>]), 'model.onnx');
      form.set('name', name);
      form.set('version', version);
      for (const [k, v] of Object.entries(extra)) form.set(k, v);
      return call('POST', '/models', form);
    },
  };
}
