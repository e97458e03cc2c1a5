// The messages that cross tabs and the Worker boundary are untrusted: malformed ones are refused with
// BAD_MESSAGE, well-formed ones pass unchanged.
import { EdgefleetError } from '@edgefleet/protocol';
import { describe, expect, it } from 'vitest';
import { FromWorker, parseMessage, TabMessage, ToWorker, transferablesOf } from '../src/messages.js';

const refusal = (schema: Parameters<typeof parseMessage>[0], data: unknown): string => {
  try {
    parseMessage(schema, data, 'message');
  } catch (err) {
    expect(err).toBeInstanceOf(EdgefleetError);
    return `${(err as EdgefleetError).code}: ${(err as Error).message}`;
  }
  throw new Error('accepted');
};

const tensor = { type: 'float32', dims: [1, 2], data: new Float32Array([1, 2]) };
const request = { kind: 'request', from: 'tab-a', id: 1, request: { op: 'infer', model: 'm', inputs: { x: tensor } } };

describe('tab messages', () => {
  it('accept a well-formed inference request, reply, leader announcement', () => {
    const r = parseMessage(TabMessage, request, 'm');
    expect(r.kind).toBe('request');
    expect(parseMessage(TabMessage, { kind: 'reply', to: 'tab-a', id: 1, ok: false, error: { code: 'NOT_FOUND', message: 'no model' } }, 'm').kind).toBe('reply');
    expect(parseMessage(TabMessage, { kind: 'leader', tab: 'tab-b' }, 'm')).toEqual({ kind: 'leader', tab: 'tab-b' });
  });

  it('refuse unknown kinds, missing fields and extra keys with BAD_MESSAGE', () => {
    expect(refusal(TabMessage, { kind: 'shutdown' })).toMatch(/^BAD_MESSAGE: malformed message/);
    expect(refusal(TabMessage, null)).toMatch(/^BAD_MESSAGE/);
    expect(refusal(TabMessage, { kind: 'request', from: 'tab-a', request: { op: 'status' } })).toMatch(/^BAD_MESSAGE: malformed message: id/);
    expect(refusal(TabMessage, { ...request, evil: true })).toMatch(/^BAD_MESSAGE/);
    expect(refusal(TabMessage, { kind: 'request', from: 'tab-a', id: -1, request: { op: 'status' } })).toMatch(/^BAD_MESSAGE: malformed message: id/);
    expect(refusal(TabMessage, { kind: 'request', from: 'tab-a', id: 1, request: { op: 'eval', code: '1' } })).toMatch(/^BAD_MESSAGE/);
  });

  it('refuse a tensor whose array is not its element type or does not fill its dims', () => {
    const withTensor = (t: unknown) => ({ ...request, request: { op: 'infer', model: 'm', inputs: { x: t } } });
    expect(refusal(TabMessage, withTensor({ ...tensor, data: new Float64Array([1, 2]) }))).toContain('data is not the array of float32');
    expect(refusal(TabMessage, withTensor({ ...tensor, data: [1, 2] }))).toContain('BAD_MESSAGE');
    expect(refusal(TabMessage, withTensor({ ...tensor, dims: [1, 3] }))).toContain('data has 2 elements, dims [1, 3] need 3');
    expect(refusal(TabMessage, withTensor({ ...tensor, type: 'complex128' }))).toContain('BAD_MESSAGE');
    expect(refusal(TabMessage, withTensor({ type: 'string', dims: [1], data: new Uint8Array(1) }))).toContain('data is not the array of string');
    expect(parseMessage(TabMessage, withTensor({ type: 'int64', dims: [2], data: new BigInt64Array(2) }), 'm').kind).toBe('request');
  });

  it('refuse a reported state that is not one in a state message', () => {
    expect(refusal(TabMessage, { kind: 'state', snapshot: { connected: true, reported: { deviceId: 'x' }, models: [], persisted: null, capture: true, error: null } })).toMatch(/^BAD_MESSAGE: malformed message: snapshot\.reported/);
  });
});

describe('worker messages', () => {
  it('refuse a start without a valid agent config and a call without an id', () => {
    expect(refusal(ToWorker, { kind: 'start', config: { deviceId: 'd' } })).toMatch(/^BAD_MESSAGE: malformed message: config/);
    expect(refusal(ToWorker, { kind: 'call', request: { op: 'status' } })).toMatch(/^BAD_MESSAGE/);
    expect(refusal(FromWorker, { kind: 'reply', id: 1, ok: true, result: 1, extra: 1 })).toMatch(/^BAD_MESSAGE/);
  });

  it('transfers only buffers a tensor fills alone', () => {
    const whole = new Float32Array(4);
    const shared = new Float32Array(8);
    expect(transferablesOf({ a: { type: 'float32', dims: [4], data: whole }, b: { type: 'float32', dims: [4], data: shared.subarray(0, 4) }, s: { type: 'string', dims: [1], data: ['x'] } })).toEqual([whole.buffer]);
  });
});
