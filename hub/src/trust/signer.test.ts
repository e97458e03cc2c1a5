import { describe, expect, it } from 'vitest';
import { generateKeyPair, signDocument } from '@edgefleet/protocol';
import { createSigner } from './signer.js';

describe('native signer', () => {
  it('produces envelopes byte-identical to the protocol’s tweetnacl signDocument', () => {
    const kp = generateKeyPair(new Uint8Array(32).fill(7));
    const doc = { kind: 'desired-state', deviceId: 'dev-1', sequence: 3, models: [], note: 'ünïcødé' };
    expect(createSigner(kp).signDocument('desired-state', doc)).toEqual(signDocument('desired-state', doc, [kp]));
  });

  it('refuses to sign a document as another kind', () => {
    expect(() => createSigner(generateKeyPair()).signDocument('command', { kind: 'desired-state' })).toThrow(/cannot be signed/);
  });
});
