// The one schema of a model push's options (design §7): the multipart fields of POST /models, the
// registry and prepareModelPush all refuse through it, each refusal with its code and message.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgefleetError } from '@edgefleet/protocol';
import type { Hub } from '@edgefleet/hub';
import { parsePushOptions, pushOptionsFromFields } from '../src/models/index.js';
import { apiClient, startTestHub, tempDir, tinyModel } from './helpers.js';

const base = { name: 'tiny', version: '1.0.0' };

function refusal(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof EdgefleetError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('accepted');
}

const matches = (actual: string, message: string | RegExp) => (typeof message === 'string' ? actual === message : message.test(actual));

/** Multipart fields and the refusal the hub gave them. */
const REFUSED: Array<[Record<string, string>, string, string | RegExp]> = [
  [{ version: '1.0.0' }, 'BAD_INPUT', 'fields "name" and "version" are required'],
  [{ name: 'tiny', version: '' }, 'BAD_INPUT', 'fields "name" and "version" are required'],
  [{ ...base, name: 'Tiny!' }, 'BAD_INPUT', 'model name must match [a-z0-9][a-z0-9._-]{0,63}, got "Tiny!"'],
  [{ ...base, version: 'one' }, 'BAD_INPUT', 'version must be semver, got "one"'],
  [{ ...base, labels: '{' }, 'BAD_JSON', 'field "labels" is not valid JSON'],
  [{ ...base, labels: '{"a":1}' }, 'BAD_INPUT', 'field "labels" must be a JSON array of strings'],
  [{ ...base, labels: '[""]' }, 'BAD_INPUT', 'labels must be 1–4096 non-empty strings of at most 128 characters'],
  [{ ...base, urls: '["https://a.example/m", 3]' }, 'BAD_INPUT', 'field "urls" must be a JSON array of strings'],
  [{ ...base, urls: JSON.stringify(Array.from({ length: 8 }, (_, i) => `https://m${i}.example/m`)) }, 'BAD_INPUT', 'at most 7 mirror URLs, got 8'],
  [{ ...base, urls: '["nope"]' }, 'BAD_INPUT', 'mirror URL "nope" is not a URL'],
  [{ ...base, urls: '["ftp://cdn.example/m"]' }, 'BAD_INPUT', 'mirror URL ftp://cdn.example/m must be http or https'],
  [{ ...base, urls: '["https://u:p@cdn.example/m"]' }, 'BAD_INPUT', /^mirror URL cdn\.example carries credentials/],
  [{ ...base, minAccuracy: 'high', validation: '' }, 'BAD_INPUT', 'minAccuracy must be a number in [0, 1]'],
  [{ ...base, minAccuracy: '1.5', validation: '' }, 'BAD_INPUT', 'minAccuracy must be a number in [0, 1]'],
  [{ ...base, minAccuracy: '0.9' }, 'BAD_INPUT', 'minAccuracy needs validation data'],
  [{ ...base, sample: 'not json' }, 'BAD_JSON', 'field "sample" is not valid JSON'],
  [{ ...base, reference: '[' }, 'BAD_JSON', 'field "reference" is not valid JSON'],
];

describe('push options', () => {
  it('refuses each bad multipart field with its code and message', () => {
    for (const [fields, code, message] of REFUSED) {
      const r = refusal(() => pushOptionsFromFields(new Map(Object.entries(fields))));
      expect(r.code, JSON.stringify(fields)).toBe(code);
      expect(matches(r.message, message), `${JSON.stringify(fields)}: ${r.message}`).toBe(true);
    }
  });

  it('decodes the fields: JSON text parsed, empty fields absent, mirror URLs normalized', () => {
    const fields = { ...base, labels: '["a","b"]', urls: '["https://CDN.example/m"]', minAccuracy: '0.5', validation: '{}', sample: '{"inputs":{}}', dataset: '', run: 'r1' };
    expect(pushOptionsFromFields(new Map(Object.entries(fields)))).toEqual({
      ...base,
      labels: ['a', 'b'],
      urls: ['https://cdn.example/m'],
      minAccuracy: 0.5,
      validation: '{}',
      sample: { inputs: {} },
      run: 'r1',
    });
  });

  it('checks the in-process options with the same schema', () => {
    expect(refusal(() => parsePushOptions({ ...base, minAccuracy: 2, validation: '' }))).toEqual({ code: 'BAD_INPUT', message: 'minAccuracy must be a number in [0, 1]' });
    expect(refusal(() => parsePushOptions({ ...base, labels: [] }))).toEqual({ code: 'BAD_INPUT', message: 'labels must be 1–4096 non-empty strings of at most 128 characters' });
    expect(parsePushOptions({ ...base, sample: 'kept as text' })).toEqual({ ...base, sample: 'kept as text' });
  });
});

describe('POST /models', () => {
  let hub: Hub;
  let dir: ReturnType<typeof tempDir>;
  beforeAll(async () => {
    dir = tempDir();
    hub = await startTestHub(dir.path, { ws: null, mqtt: null });
  });
  afterAll(async () => {
    await hub.close();
    dir.remove();
  });

  it('answers each refusal of the schema with its code, storing nothing', async () => {
    const api = apiClient(hub.urls.http, hub.adminToken);
    for (const [fields, code, message] of REFUSED) {
      const res = await api.pushModel(tinyModel(), fields);
      expect(res.body.error.code, JSON.stringify(fields)).toBe(code);
      expect(matches(res.body.error.message, message), `${JSON.stringify(fields)}: ${res.body.error.message}`).toBe(true);
    }
    expect((await api.get('/models')).body.models).toEqual([]);
    expect((await api.pushModel(tinyModel(), { ...base, urls: '["https://CDN.example/m"]' })).body.manifest.artifact.urls[0]).toBe('https://cdn.example/m');
  });
});
