// Trust and rollback of a browser device end to end: real Chromium on the hub's /device/, a real hub and its
// broker, onnxruntime-web in the page's Worker. v1 is active in each device before the test starts on it.
// - A v2 whose stored artifact was tampered with after the push: the device refuses it (HASH_MISMATCH, as the
//   hub sees in its reported state and events) and v1 keeps answering in the page.
// - A desired state signed with a key that is not the director's, and a hub-signed desired state carrying a
//   manifest signed with a key that is not the release key (both under the genuine key ids, so the Ed25519
//   check itself refuses them): BAD_SIGNATURE, and v1 keeps answering.
// - A v2 that passes its self-test but fails on the page's real inputs while on probation (the hub's
//   telemetry settings: judged after 3 inferences): the device rolls back to v1 by itself, reports
//   `rolled-back` and v1 answers again.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Envelope, generateKeyPair, signDocument, topics, type DesiredState } from '@edgefleet/protocol';
import { buildModel } from '@edgefleet/protocol/onnx';
import { seededClassifier } from '@edgefleet/protocol/testing';
import { enrolDevice, inferInPage as infer, modelState, startDeviceStand, type DeviceStand } from './support/device-hub.js';

const mlp = (seed: number): Uint8Array => seededClassifier({ seed, features: 3, classes: 2 });
const V1 = mlp(1);

/**
 * features [batch, 3] → Cast to int64 → indices into a 3-entry table. The hub's synthesized self-test
 * inputs are all below 1 (index 0), so the push and the device's self-test pass; the page's `1, 2, 3`
 * asks for index 3 and onnxruntime refuses the run (out of bounds): INFERENCE_FAILED on real inputs.
 */
const FAILS_ON_REAL_INPUTS = buildModel({
  inputs: [{ name: 'features', type: 'float32', shape: ['batch', 3] }],
  outputs: [
    { name: 'probabilities', type: 'float32', shape: ['batch', 3] },
    { name: 'label', type: 'int64', shape: ['batch'] },
  ],
  initializers: [{ name: 'table', type: 'float32', dims: [3], data: Float32Array.from([0.1, 0.2, 0.3]) }],
  nodes: [
    { op: 'Cast', inputs: ['features'], outputs: ['idx'], attributes: { to: 7 } },
    { op: 'Gather', inputs: ['table', 'idx'], outputs: ['g'] },
    { op: 'Softmax', inputs: ['g'], outputs: ['probabilities'], attributes: { axis: -1 } },
    { op: 'ArgMax', inputs: ['g'], outputs: ['label'], attributes: { axis: 1, keepdims: 0 } },
  ],
});

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('trust and rollback of a browser device against a real hub', () => {
  let stand: DeviceStand;
  let v1Probs = '';
  beforeAll(async () => {
    // probation judged after 3 inferences (20 by default), long enough never to pass by time here
    stand = await startDeviceStand({ hub: { telemetry: { probationSeconds: 3600, probationMinInferences: 3, probationMaxErrorRate: 0.2 } } });
    await stand.push('tiny', '1.0.0', V1);
    const session = await ortNode.InferenceSession.create(V1);
    const want = await session.run({ features: new ortNode.Tensor('float32', Float32Array.from([1, 2, 3]), [1, 3]) });
    await session.release();
    v1Probs = Array.from(want.probabilities!.data as Float32Array, (v) => v.toPrecision(5)).join(', ');
  });
  afterAll(async () => {
    await stand?.close();
  });

  /** A new device (its own browser context) at `site` with tiny@1.0.0 active and answering in the page. */
  const deviceWithV1 = async (id: string, site: string) => {
    const device = await enrolDevice(stand, id, { site });
    await stand.rollout('tiny', '1.0.0', { site });
    await expect.poll(() => modelState(device.page, 'tiny'), { timeout: 60_000 }).toBe('active');
    await servesV1(device.page);
    return device;
  };
  const servesV1 = async (page: Page): Promise<void> => {
    const text = await infer(page, '1, 2, 3');
    expect(text).toContain('version 1.0.0');
    expect(text).toContain(v1Probs);
  };
  const seenByHub = async (id: string) => (await stand.api('GET', `/devices/${id}`)).body as { device: { reported: any }; events: { type: string; code?: string; version?: string }[] };

  it('refuses a tampered artifact (HASH_MISMATCH) and keeps serving v1', async () => {
    const { ctx, page, errors } = await deviceWithV1('web-tamper', 't1');
    const v2 = mlp(3);
    await stand.push('tiny', '2.0.0', v2);
    // the bytes the hub serves are no longer the ones the manifest signs: same size, a few bytes flipped
    const file = join(stand.dir, 'hub', 'artifacts', sha256(v2));
    const bytes = readFileSync(file);
    for (let i = bytes.length - 8; i < bytes.length; i++) bytes[i] = bytes[i]! ^ 0xff;
    writeFileSync(file, bytes);
    await stand.rollout('tiny', '2.0.0', { site: 't1' });

    await expect.poll(async () => (await seenByHub('web-tamper')).events.some((e) => e.type === 'verification-failed' && e.code === 'HASH_MISMATCH'), { timeout: 60_000 }).toBe(true);
    await expect.poll(async () => (await seenByHub('web-tamper')).device.reported.models.tiny.error?.code, { timeout: 30_000 }).toBe('HASH_MISMATCH');
    const reported = (await seenByHub('web-tamper')).device.reported.models.tiny;
    expect(reported.active.version).toBe('1.0.0');
    await expect.poll(() => page.textContent('#models tbody tr[data-model=tiny] td.error')).toContain('HASH_MISMATCH');
    await servesV1(page);
    expect(errors).toEqual([]);
    await ctx.close();
  });

  it('refuses a desired state and a manifest signed with the wrong key (BAD_SIGNATURE) and keeps serving v1', async () => {
    const { ctx, page, errors } = await deviceWithV1('web-forged', 't2');
    await stand.push('tiny', '2.1.0', mlp(5));
    const { ctx: hubCtx } = stand.hub.services;
    const genuine = Envelope.parse(JSON.parse((await hubCtx.store.getModelVersion('tiny', '2.1.0'))!.envelope) as unknown);
    const wrongKey = generateKeyPair();
    /** Signed by `wrongKey` but naming `keyId`: the signature, not the key id, is what is wrong. */
    const forge = (kind: 'desired-state' | 'model-manifest', doc: unknown, keyId: string) => {
      const env = signDocument(kind, doc, [wrongKey]);
      return { ...env, signatures: env.signatures.map((s) => ({ ...s, keyId })) };
    };
    const now = Date.now();
    const desired = (sequence: number, manifest: Envelope): DesiredState => ({
      kind: 'desired-state',
      deviceId: 'web-forged',
      sequence,
      issuedAt: new Date(now).toISOString(),
      expiresAt: new Date(now + 3_600_000).toISOString(),
      models: [{ manifest, role: 'active' }],
    });
    const publish = (env: unknown) => hubCtx.bus.publish(topics.desired('web-forged'), JSON.stringify(env), { qos: 1, retain: true });
    const refusals = async () => (await seenByHub('web-forged')).events.filter((e) => e.type === 'verification-failed' && e.code === 'BAD_SIGNATURE').length;

    // 1. a desired state for the genuine tiny@2.1.0, signed with a key that is not the director's
    await publish(forge('desired-state', desired(1000, genuine), hubCtx.keys.director.keyId));
    await expect.poll(refusals, { timeout: 30_000 }).toBe(1);
    await expect.poll(async () => (await seenByHub('web-forged')).device.reported.models.tiny.error?.code, { timeout: 30_000 }).toBe('BAD_SIGNATURE');
    await servesV1(page);

    // 2. a desired state the hub's director key signs, naming a tiny@2.1.0 manifest signed with a key that is not the release key
    const payload = JSON.parse(Buffer.from(genuine.payload, 'base64').toString('utf8')) as unknown;
    const badManifest = forge('model-manifest', payload, hubCtx.keys.release.keyId);
    await publish(hubCtx.keys.directorSigner.signDocument('desired-state', desired(await hubCtx.store.nextDesiredSequence('web-forged'), badManifest)));
    await expect.poll(refusals, { timeout: 30_000 }).toBe(2);

    const seen = await seenByHub('web-forged');
    expect(seen.device.reported.models.tiny.active.version).toBe('1.0.0');
    expect(seen.device.reported.models.tiny.pending).toBeNull();
    expect(await modelState(page, 'tiny')).toBe('active');
    await servesV1(page);
    expect(errors).toEqual([]);
    await ctx.close();
  });

  it('rolls a v2 that fails on real inputs during probation back to v1 by itself, like the Node agent', async () => {
    const { ctx, page, errors } = await deviceWithV1('web-probation', 't3');
    await stand.push('tiny', '3.0.0', FAILS_ON_REAL_INPUTS);
    await stand.rollout('tiny', '3.0.0', { site: 't3' });
    await expect.poll(() => modelState(page, 'tiny'), { timeout: 60_000 }).toBe('probation');
    await expect.poll(() => page.textContent('#infer form small')).toBe('3.0.0');

    // the page's real inputs: every run on 3.0.0 fails; the third failure has the probation judged (3/3 errors
    // > 20%). A form rebuilt by a state change right after a click is run again (inferInPage), so on a loaded
    // machine the run that follows the third failure can already reach 1.0.0 — never a 3.0.0 answer.
    const answers: string[] = [];
    for (let i = 0; i < 6 && (await modelState(page, 'tiny')) !== 'rolled-back'; i++) answers.push(await infer(page, '1, 2, 3'));
    expect(answers.filter((a) => /^INFERENCE_FAILED: /.test(a)).length).toBeGreaterThanOrEqual(1);
    // whatever answered after the rollback (1.0.0, or its form refusing the 3.0.0 inputs), 3.0.0 never did
    for (const a of answers) expect(a).not.toMatch(/^version 3\.0\.0 /);

    await expect.poll(() => modelState(page, 'tiny'), { timeout: 30_000 }).toBe('rolled-back');
    await expect.poll(async () => (await seenByHub('web-probation')).device.reported.models.tiny.state, { timeout: 30_000 }).toBe('rolled-back');
    const seen = await seenByHub('web-probation');
    expect(seen.device.reported.models.tiny.active.version).toBe('1.0.0');
    expect(seen.device.reported.models.tiny.error.code).toBe('PROBATION_FAILED');
    await expect.poll(async () => (await seenByHub('web-probation')).events.find((e) => e.type === 'rolled-back'), { timeout: 30_000 }).toMatchObject({ code: 'PROBATION_FAILED', version: '3.0.0' });
    await expect.poll(() => page.textContent('#infer form small')).toBe('1.0.0');
    await servesV1(page);
    expect(errors).toEqual([]);
    await ctx.close();
  });
});
