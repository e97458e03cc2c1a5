// Every refusal of the design §3 check order, with real Ed25519 signatures (no mocks).
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Result } from './errors.js';
import { fromBase64, sha256Hex, toBase64, utf8Decode, utf8Encode } from './encoding.js';
import { LIMITS } from './limits.js';
import type { Command, DesiredState, Envelope, Keyring, KeyRole, Manifest } from './schemas/index.js';
import { generateKeyPair, signBytes, signDocument, toKeyringKey, type KeyPair } from './signing.js';
import {
  parseMessage,
  verifyCommand,
  verifyDesiredState,
  verifyKeyring,
  verifyManifestEnvelope,
  verifySignedPayload,
  type VerifyContext,
} from './verify.js';

const key = (n: number): KeyPair => generateKeyPair(new Uint8Array(32).fill(n));
const root = key(1);
const release = key(2);
const release2 = key(3);
const director = key(4);
const director2 = key(5);
const revoked = key(6);
const stranger = key(7);

const NOW = new Date('2026-06-01T12:00:00Z');
const LATER = '2027-01-01T00:00:00.000Z';
const EARLIER = '2026-05-01T00:00:00.000Z';
const DEVICE = 'pump-7';

function makeKeyring(overrides: Partial<Keyring> = {}, keys: Array<[KeyPair, KeyRole[]]> = []): Keyring {
  const base: Array<[KeyPair, KeyRole[]]> = [
    [release, ['release']],
    [release2, ['release']],
    [director, ['director']],
    [director2, ['director']],
    [revoked, ['director', 'release']],
  ];
  return {
    kind: 'keyring',
    version: 1,
    expiresAt: LATER,
    keys: [...base, ...keys].map(([kp, roles]) => toKeyringKey(kp, roles)),
    threshold: { release: 1, director: 1 },
    revokedKeyIds: [revoked.keyId],
    releaseFloors: {},
    ...overrides,
  };
}

function manifestDoc(overrides: Partial<Manifest> = {}): Manifest {
  return {
    kind: 'model-manifest',
    model: 'iris',
    version: '1.2.0',
    release: 3,
    createdAt: '2026-05-30T00:00:00.000Z',
    artifact: { sha256: sha256Hex(utf8Encode('model bytes')), size: 11, chunkSize: 65536, format: 'onnx' },
    io: {
      inputs: [{ name: 'x', type: 'float32', shape: ['batch', 4] }],
      outputs: [{ name: 'y', type: 'float32', shape: ['batch', 3] }],
    },
    selfTest: {
      inputs: [{ name: 'x', type: 'float32', shape: [1, 4], data: [1, 2, 3, 4] }],
      outputs: [{ name: 'y', type: 'float32', shape: [1, 3], data: [0.1, 0.2, 0.7] }],
      tolerance: { abs: 1e-4, rel: 1e-3 },
    },
    lineage: {},
    compat: { runtimes: ['onnxruntime'] },
    ...overrides,
  };
}

const signManifest = (overrides: Partial<Manifest> = {}, signers: KeyPair[] = [release]): Envelope =>
  signDocument('model-manifest', manifestDoc(overrides), signers);

function desiredDoc(overrides: Partial<DesiredState> = {}): DesiredState {
  return {
    kind: 'desired-state',
    deviceId: DEVICE,
    sequence: 5,
    issuedAt: '2026-06-01T11:59:00.000Z',
    expiresAt: LATER,
    models: [
      { manifest: signManifest(), role: 'active', rolloutId: 'r-1' },
      { manifest: signManifest({ model: 'iris-next', version: '2.0.0', release: 1 }), role: 'shadow' },
    ],
    ...overrides,
  };
}

const signDesired = (overrides: Partial<DesiredState> = {}, signers: KeyPair[] = [director]): string =>
  JSON.stringify(signDocument('desired-state', desiredDoc(overrides), signers));

function commandDoc(overrides: Partial<Command> = {}): Command {
  return {
    kind: 'command',
    deviceId: DEVICE,
    sequence: 2,
    issuedAt: '2026-06-01T11:59:00.000Z',
    expiresAt: LATER,
    action: 'rollback',
    model: 'iris',
    ...overrides,
  };
}

const ctx = (overrides: Partial<VerifyContext> = {}): VerifyContext => ({
  deviceId: DEVICE,
  lastSequence: 4,
  keyring: makeKeyring(),
  now: NOW,
  ...overrides,
});

function codeOf<T>(r: Result<T>): string {
  return r.ok ? 'ok' : r.code;
}

/** Re-encode an envelope's payload after editing its JSON text, keeping the old signatures. */
function tamper(raw: string, edit: (text: string) => string): string {
  const env = JSON.parse(raw) as Envelope;
  const text = utf8Decode(fromBase64(env.payload));
  const edited = edit(text);
  expect(edited).not.toBe(text);
  return JSON.stringify({ ...env, payload: toBase64(utf8Encode(edited)) });
}

describe('verifyDesiredState (design §3 check order)', () => {
  it('accepts a valid desired state with two release-signed manifests', () => {
    const raw = signDesired();
    const r = verifyDesiredState(utf8Encode(raw), ctx());
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.desired.sequence).toBe(5);
    expect(r.value.models.map((m) => [m.manifest.model, m.manifest.version, m.role, m.rolloutId])).toEqual([
      ['iris', '1.2.0', 'active', 'r-1'],
      ['iris-next', '2.0.0', 'shadow', undefined],
    ]);
    expect(r.value.models[0]!.envelope).toEqual(desiredDoc().models[0]!.manifest);
    // Strings and bytes are the same input.
    expect(verifyDesiredState(raw, ctx()).ok).toBe(true);
  });

  it('accepts manifests with and without lineage.importance (an optional signed field)', () => {
    const importance = {
      method: 'permutation' as const,
      metric: 'accuracy' as const,
      rows: 400,
      repeats: 3,
      seed: 1,
      features: [
        { name: 'temperature', drop: 0.31, share: 0.8 },
        { name: 'humidity', drop: 0.0775, share: 0.2 },
      ],
    };
    const raw = signDesired({
      models: [
        { manifest: signManifest({ lineage: {} }), role: 'active' },
        { manifest: signManifest({ model: 'iris-next', version: '2.0.0', release: 1, lineage: { importance } }), role: 'shadow' },
      ],
    });
    const r = verifyDesiredState(utf8Encode(raw), ctx());
    expect(codeOf(r)).toBe('ok');
    if (!r.ok) return;
    expect(r.value.models[0]!.manifest.lineage.importance).toBeUndefined();
    expect(r.value.models[1]!.manifest.lineage.importance).toEqual(importance);
    // shares are fractions: one above 1 is a malformed manifest, refused after its signature checked
    const bad = signDesired({ models: [{ manifest: signManifest({ lineage: { importance: { ...importance, features: [{ name: 't', drop: 1, share: 2 }] } } }), role: 'active' }] });
    expect(codeOf(verifyDesiredState(utf8Encode(bad), ctx()))).toBe('BAD_MESSAGE');
  });

  it('refuses an oversized payload before parsing it (TOO_LARGE)', () => {
    // Validly signed, but padded past the cap with JSON whitespace: the size cap is the first check.
    const raw = ' '.repeat(LIMITS.desired) + signDesired();
    expect(codeOf(verifyDesiredState(raw, ctx()))).toBe('TOO_LARGE');
    expect(codeOf(verifyDesiredState(utf8Encode(raw), ctx()))).toBe('TOO_LARGE');
  });

  it('refuses malformed JSON and malformed UTF-8 (BAD_JSON)', () => {
    expect(codeOf(verifyDesiredState('{"payload": "abc", ', ctx()))).toBe('BAD_JSON');
    expect(codeOf(verifyDesiredState(Uint8Array.from([0x7b, 0xff, 0x7d]), ctx()))).toBe('BAD_JSON');
  });

  it('refuses a signed payload that is not JSON (BAD_JSON)', () => {
    const raw = JSON.stringify(signBytes('desired-state', utf8Encode('not json'), [director]));
    expect(codeOf(verifyDesiredState(raw, ctx()))).toBe('BAD_JSON');
  });

  it('refuses an envelope that violates its schema (BAD_MESSAGE)', () => {
    const env = JSON.parse(signDesired()) as Envelope;
    expect(codeOf(verifyDesiredState(JSON.stringify({ ...env, signatures: [] }), ctx()))).toBe('BAD_MESSAGE');
    expect(codeOf(verifyDesiredState(JSON.stringify({ signatures: env.signatures }), ctx()))).toBe('BAD_MESSAGE');
    expect(codeOf(verifyDesiredState('[1,2,3]', ctx()))).toBe('BAD_MESSAGE');
  });

  it('refuses a validly signed desired state that violates its schema (BAD_MESSAGE)', () => {
    const { sequence: _omitted, ...noSequence } = desiredDoc();
    const raw = JSON.stringify(signDocument('desired-state', noSequence, [director]));
    const r = verifyDesiredState(raw, ctx());
    expect(codeOf(r)).toBe('BAD_MESSAGE');
    expect(r.ok ? '' : r.message).toMatch(/sequence/);
  });

  it('refuses a tampered payload (BAD_SIGNATURE)', () => {
    const raw = tamper(signDesired(), (t) => t.replace('"sequence":5', '"sequence":6'));
    expect(codeOf(verifyDesiredState(raw, ctx()))).toBe('BAD_SIGNATURE');
  });

  it('refuses a signature that is not 64 bytes or not base64 of a signature (BAD_SIGNATURE)', () => {
    const env = JSON.parse(signDesired()) as Envelope;
    const short = { ...env, signatures: [{ keyId: director.keyId, sig: toBase64(new Uint8Array(10)) }] };
    expect(codeOf(verifyDesiredState(JSON.stringify(short), ctx()))).toBe('BAD_SIGNATURE');
  });

  it('refuses a signature by a key not in the keyring (UNKNOWN_KEY)', () => {
    expect(codeOf(verifyDesiredState(signDesired({}, [stranger]), ctx()))).toBe('UNKNOWN_KEY');
  });

  it('refuses a signature by a revoked key, even one still listed with the role (REVOKED_KEY)', () => {
    expect(codeOf(verifyDesiredState(signDesired({}, [revoked]), ctx()))).toBe('REVOKED_KEY');
  });

  it('refuses one signature when the director threshold is 2 (BELOW_THRESHOLD)', () => {
    const keyring = makeKeyring({ threshold: { release: 1, director: 2 } });
    expect(codeOf(verifyDesiredState(signDesired({}, [director]), ctx({ keyring })))).toBe('BELOW_THRESHOLD');
    expect(verifyDesiredState(signDesired({}, [director, director2]), ctx({ keyring })).ok).toBe(true);
  });

  it('counts one key once, however many times it signed', () => {
    const keyring = makeKeyring({ threshold: { release: 1, director: 2 } });
    const env = JSON.parse(signDesired({}, [director])) as Envelope;
    const doubled = { ...env, signatures: [env.signatures[0]!, env.signatures[0]!] };
    expect(codeOf(verifyDesiredState(JSON.stringify(doubled), ctx({ keyring })))).toBe('BELOW_THRESHOLD');
  });

  it('does not count a valid signature from a key without the director role (BELOW_THRESHOLD)', () => {
    const r = verifyDesiredState(signDesired({}, [release]), ctx());
    expect(codeOf(r)).toBe('BELOW_THRESHOLD');
    expect(r.ok ? '' : r.message).toMatch(/director/);
  });

  it('ignores extra unknown or bad signatures once the threshold is met', () => {
    const env = JSON.parse(signDesired({}, [director])) as Envelope;
    const extra = signDocument('desired-state', desiredDoc(), [stranger]).signatures[0]!;
    const junk = { keyId: director2.keyId, sig: toBase64(new Uint8Array(64)) };
    const raw = JSON.stringify({ ...env, signatures: [extra, junk, ...env.signatures] });
    expect(verifyDesiredState(raw, ctx()).ok).toBe(true);
  });

  it('refuses a desired state whose signed payload declares another kind (WRONG_KIND)', () => {
    const bytes = utf8Encode(JSON.stringify(commandDoc()));
    const raw = JSON.stringify(signBytes('desired-state', bytes, [director]));
    expect(codeOf(verifyDesiredState(raw, ctx()))).toBe('WRONG_KIND');
  });

  it('refuses a desired state for another device (WRONG_DEVICE)', () => {
    expect(codeOf(verifyDesiredState(signDesired({ deviceId: 'pump-8' }), ctx()))).toBe('WRONG_DEVICE');
  });

  it('refuses a desired state replayed with an old or equal sequence (REPLAYED_SEQUENCE)', () => {
    const raw = signDesired({ sequence: 5 });
    expect(codeOf(verifyDesiredState(raw, ctx({ lastSequence: 5 })))).toBe('REPLAYED_SEQUENCE');
    expect(codeOf(verifyDesiredState(raw, ctx({ lastSequence: 9 })))).toBe('REPLAYED_SEQUENCE');
    expect(verifyDesiredState(raw, ctx({ lastSequence: 4 })).ok).toBe(true);
  });

  it('refuses an expired desired state (EXPIRED)', () => {
    expect(codeOf(verifyDesiredState(signDesired({ expiresAt: EARLIER }), ctx()))).toBe('EXPIRED');
    // Exactly at expiresAt counts as expired.
    expect(codeOf(verifyDesiredState(signDesired({ expiresAt: NOW.toISOString() }), ctx()))).toBe('EXPIRED');
  });

  it('refuses anything while the keyring itself is expired (EXPIRED)', () => {
    const keyring = makeKeyring({ expiresAt: EARLIER });
    expect(codeOf(verifyDesiredState(signDesired(), ctx({ keyring })))).toBe('EXPIRED');
  });

  it('refuses a manifest below the keyring release floor (BELOW_RELEASE_FLOOR)', () => {
    const keyring = makeKeyring({ releaseFloors: { iris: 4 } });
    const r = verifyDesiredState(signDesired(), ctx({ keyring }));
    expect(codeOf(r)).toBe('BELOW_RELEASE_FLOOR');
    expect(r.ok ? '' : r.message).toMatch(/^models\[0\]/);
    // At the floor is allowed (a downgrade to the floor release is legitimate).
    expect(verifyDesiredState(signDesired(), ctx({ keyring: makeKeyring({ releaseFloors: { iris: 3 } }) })).ok).toBe(true);
  });

  it('refuses an expired manifest inside a current desired state (EXPIRED)', () => {
    const models = [{ manifest: signManifest({ expiresAt: EARLIER }), role: 'active' as const }];
    expect(codeOf(verifyDesiredState(signDesired({ models }), ctx()))).toBe('EXPIRED');
  });

  it('refuses a manifest signed only by a director key: a stolen director key cannot publish a model', () => {
    const models = [{ manifest: signManifest({}, [director]), role: 'active' as const }];
    const r = verifyDesiredState(signDesired({ models }), ctx());
    expect(codeOf(r)).toBe('BELOW_THRESHOLD');
    expect(r.ok ? '' : r.message).toMatch(/release/);
  });

  it('refuses a tampered manifest inside a validly signed desired state (BAD_SIGNATURE)', () => {
    const env = signManifest();
    const text = utf8Decode(fromBase64(env.payload)).replace('"release":3', '"release":30');
    const forged = { ...env, payload: toBase64(utf8Encode(text)) };
    const r = verifyDesiredState(signDesired({ models: [{ manifest: forged, role: 'active' }] }), ctx());
    expect(codeOf(r)).toBe('BAD_SIGNATURE');
  });

  it('checks in design §3 order: device before sequence before expiry before manifests', () => {
    const keyring = makeKeyring({ releaseFloors: { iris: 99 } });
    const all = { deviceId: 'pump-8', sequence: 1, expiresAt: EARLIER };
    expect(codeOf(verifyDesiredState(signDesired(all), ctx({ keyring })))).toBe('WRONG_DEVICE');
    expect(codeOf(verifyDesiredState(signDesired({ ...all, deviceId: DEVICE }), ctx({ keyring })))).toBe('REPLAYED_SEQUENCE');
    expect(codeOf(verifyDesiredState(signDesired({ expiresAt: EARLIER }), ctx({ keyring })))).toBe('EXPIRED');
    expect(codeOf(verifyDesiredState(signDesired({}), ctx({ keyring })))).toBe('BELOW_RELEASE_FLOOR');
  });
});

describe('verifyCommand', () => {
  const signCommand = (overrides: Partial<Command> = {}, signers: KeyPair[] = [director]) =>
    JSON.stringify(signDocument('command', commandDoc(overrides), signers));

  it('accepts a director-signed command for this device', () => {
    const r = verifyCommand(signCommand(), ctx({ lastSequence: 1 }));
    expect(r.ok && r.value.action).toBe('rollback');
  });

  it('refuses a manifest envelope presented as a command (WRONG_KIND)', () => {
    const r = verifyCommand(JSON.stringify(signManifest()), ctx({ lastSequence: 0 }));
    expect(codeOf(r)).toBe('WRONG_KIND');
    expect(r.ok ? '' : r.message).toMatch(/model-manifest/);
  });

  it('refuses a desired-state envelope presented as a command (WRONG_KIND)', () => {
    expect(codeOf(verifyCommand(signDesired(), ctx({ lastSequence: 0 })))).toBe('WRONG_KIND');
  });

  it('refuses an oversized command, a replayed one and one for another device', () => {
    expect(codeOf(verifyCommand(' '.repeat(LIMITS.command) + signCommand(), ctx({ lastSequence: 1 })))).toBe('TOO_LARGE');
    expect(codeOf(verifyCommand(signCommand(), ctx({ lastSequence: 2 })))).toBe('REPLAYED_SEQUENCE');
    expect(codeOf(verifyCommand(signCommand({ deviceId: 'other' }), ctx({ lastSequence: 1 })))).toBe('WRONG_DEVICE');
    expect(codeOf(verifyCommand(signCommand({ expiresAt: EARLIER }), ctx({ lastSequence: 1 })))).toBe('EXPIRED');
  });

  describe('telemetry-confirm (design §4 telemetry confirm)', () => {
    const confirm = (overrides: Partial<Command> = {}): Partial<Command> => ({
      action: 'telemetry-confirm',
      model: undefined,
      telemetrySeq: 9,
      telemetryRanges: [[1, 4], [7, 9]],
      ...overrides,
    });

    it('accepts a director-signed confirmation with its seq ranges', () => {
      const r = verifyCommand(signCommand(confirm()), ctx({ lastSequence: 1 }));
      expect(r.ok && r.value).toMatchObject({ action: 'telemetry-confirm', telemetrySeq: 9, telemetryRanges: [[1, 4], [7, 9]] });
    });

    it('refuses an unsigned, forged, tampered or replayed confirmation', () => {
      const doc = commandDoc(confirm());
      const unsigned = { ...signDocument('command', doc, [director]), signatures: [] };
      expect(codeOf(verifyCommand(JSON.stringify(unsigned), ctx({ lastSequence: 1 })))).toBe('BAD_MESSAGE');
      expect(codeOf(verifyCommand(JSON.stringify(signDocument('command', doc, [stranger])), ctx({ lastSequence: 1 })))).toBe('UNKNOWN_KEY');
      expect(verifyCommand(JSON.stringify(signDocument('command', doc, [release])), ctx({ lastSequence: 1 })).ok).toBe(false);
      const raised = tamper(signCommand(confirm()), (t) => t.replace('"telemetrySeq":9', '"telemetrySeq":99').replace('[7,9]', '[7,99]'));
      expect(codeOf(verifyCommand(raised, ctx({ lastSequence: 1 })))).toBe('BAD_SIGNATURE');
      expect(codeOf(verifyCommand(signCommand(confirm()), ctx({ lastSequence: 2 })))).toBe('REPLAYED_SEQUENCE');
    });

    it('refuses a signed confirmation without its seq fields or with a range past its seq (BAD_MESSAGE)', () => {
      for (const bad of [
        confirm({ telemetrySeq: undefined }),
        confirm({ telemetryRanges: undefined }),
        confirm({ telemetryRanges: [] }),
        confirm({ telemetryRanges: [[5, 3]] }),
        confirm({ telemetryRanges: [[1, 10]] }),
        confirm({ telemetrySeq: -1, telemetryRanges: [[0, 0]] }),
        confirm({ telemetrySeq: 1.5, telemetryRanges: [[1, 1]] }),
        confirm({ telemetryRanges: Array.from({ length: 257 }, (_, i): [number, number] => [i, i]), telemetrySeq: 300 }),
      ]) {
        expect(codeOf(verifyCommand(signCommand(bad), ctx({ lastSequence: 1 })))).toBe('BAD_MESSAGE');
      }
    });

    it('keeps the other commands valid without the seq fields', () => {
      for (const action of ['rollback', 'flush-telemetry', 'resync'] as const) {
        expect(verifyCommand(signCommand({ action }), ctx({ lastSequence: 1 })).ok).toBe(true);
      }
    });
  });
});

describe('verifyManifestEnvelope', () => {
  it('accepts a release-signed manifest and applies schema defaults', () => {
    const r = verifyManifestEnvelope(signManifest(), makeKeyring(), NOW);
    expect(r.ok && r.value.artifact.size).toBe(11);
  });

  it('refuses a release signature below a release threshold of 2, accepts two release keys', () => {
    const keyring = makeKeyring({ threshold: { release: 2, director: 1 } });
    expect(codeOf(verifyManifestEnvelope(signManifest(), keyring, NOW))).toBe('BELOW_THRESHOLD');
    expect(verifyManifestEnvelope(signManifest({}, [release, release2]), keyring, NOW).ok).toBe(true);
  });

  it('refuses manifest bytes whose signature was made under another kind domain (BAD_SIGNATURE)', () => {
    // The payload says model-manifest, but no signature covers it as one: domain separation holds.
    const bytes = utf8Encode(JSON.stringify(manifestDoc()));
    expect(codeOf(verifyManifestEnvelope(signBytes('command', bytes, [release]), makeKeyring(), NOW))).toBe('BAD_SIGNATURE');
  });

  it('refuses a release-signed command payload presented as a manifest (WRONG_KIND)', () => {
    const env = signDocument('command', commandDoc(), [release]);
    expect(codeOf(verifyManifestEnvelope(env, makeKeyring(), NOW))).toBe('WRONG_KIND');
  });

  it('refuses a malformed envelope object (BAD_MESSAGE)', () => {
    const bad = { payload: '***', signatures: [] } as unknown as Envelope;
    expect(codeOf(verifyManifestEnvelope(bad, makeKeyring(), NOW))).toBe('BAD_MESSAGE');
  });
});

describe('verifyKeyring (root-signed chain, design §3)', () => {
  const signKeyring = (k: Keyring, signers: KeyPair[] = [root]) => JSON.stringify(signDocument('keyring', k, signers));
  const v1 = makeKeyring({ version: 1 });
  // v2 rotates the director key: director is removed and revoked, director2 stays.
  const v2 = makeKeyring({ version: 2, revokedKeyIds: [revoked.keyId, director.keyId] });
  const v3 = makeKeyring({ version: 3, threshold: { release: 2, director: 1 }, releaseFloors: { iris: 2 } });

  it('accepts the first keyring and a v1 → v2 → v3 rotation chain', () => {
    let current: Keyring | null = null;
    for (const k of [v1, v2, v3]) {
      const r = verifyKeyring(signKeyring(k), root.publicKey, current, NOW);
      expect(codeOf(r)).toBe('ok');
      if (r.ok) current = r.value;
    }
    expect(current?.version).toBe(3);
    expect(current?.releaseFloors).toEqual({ iris: 2 });
  });

  it('applies a rotation: the revoked director key no longer signs desired states', () => {
    const r = verifyKeyring(signKeyring(v2), root.publicKey, v1, NOW);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(codeOf(verifyDesiredState(signDesired({}, [director]), ctx({ keyring: r.value })))).toBe('REVOKED_KEY');
    expect(verifyDesiredState(signDesired({}, [director2]), ctx({ keyring: r.value })).ok).toBe(true);
  });

  it('refuses a rollback to an older version (KEYRING_ROLLBACK)', () => {
    expect(codeOf(verifyKeyring(signKeyring(v2), root.publicKey, v3, NOW))).toBe('KEYRING_ROLLBACK');
    expect(codeOf(verifyKeyring(signKeyring(v1), root.publicKey, v3, NOW))).toBe('KEYRING_ROLLBACK');
  });

  it('accepts an identical re-delivery of the current version but refuses different content under it', () => {
    expect(verifyKeyring(signKeyring(v2), root.publicKey, v2, NOW).ok).toBe(true);
    const changed = makeKeyring({ version: 2, revokedKeyIds: [] });
    expect(codeOf(verifyKeyring(signKeyring(changed), root.publicKey, v2, NOW))).toBe('KEYRING_ROLLBACK');
  });

  it('accepts a skipped version: an agent offline for months sees only the latest retained keyring', () => {
    expect(verifyKeyring(signKeyring(v3), root.publicKey, v1, NOW).ok).toBe(true);
  });

  it('refuses a step not signed by the pinned root key', () => {
    // Signed by a key the current keyring trusts, but not by root.
    expect(codeOf(verifyKeyring(signKeyring(v2, [director]), root.publicKey, v1, NOW))).toBe('UNKNOWN_KEY');
    // Signed by root, then tampered.
    const tampered = tamper(signKeyring(v2), (t) => t.replace('"version":2', '"version":7'));
    expect(codeOf(verifyKeyring(tampered, root.publicKey, v1, NOW))).toBe('BAD_SIGNATURE');
    // A different pinned root refuses the genuine chain.
    expect(codeOf(verifyKeyring(signKeyring(v2), stranger.publicKey, v1, NOW))).toBe('UNKNOWN_KEY');
  });

  it('refuses an expired keyring, a non-keyring payload and a key listed under the wrong keyId', () => {
    expect(codeOf(verifyKeyring(signKeyring(makeKeyring({ version: 4, expiresAt: EARLIER })), root.publicKey, v3, NOW))).toBe(
      'EXPIRED',
    );
    const notKeyring = JSON.stringify(signBytes('keyring', utf8Encode(JSON.stringify(manifestDoc())), [root]));
    expect(codeOf(verifyKeyring(notKeyring, root.publicKey, null, NOW))).toBe('WRONG_KIND');
    const k = makeKeyring({ version: 5 });
    const mislabelled: Keyring = { ...k, keys: [{ ...k.keys[0]!, keyId: stranger.keyId }, ...k.keys.slice(1)] };
    expect(codeOf(verifyKeyring(signKeyring(mislabelled), root.publicKey, null, NOW))).toBe('BAD_MESSAGE');
    expect(codeOf(verifyKeyring('x'.repeat(LIMITS.keyring + 1), root.publicKey, null, NOW))).toBe('TOO_LARGE');
  });
});

describe('verifySignedPayload', () => {
  it('returns the exact signed bytes, not a re-serialization', () => {
    const text = '{ "kind":"command",  "b": 1, "a": 2 }';
    const env = signBytes('command', utf8Encode(text), [director]);
    const r = verifySignedPayload(env, 'command', {
      keys: [toKeyringKey(director, ['director'])],
      revokedKeyIds: [],
      role: 'director',
      threshold: 1,
    });
    expect(r.ok && utf8Decode(r.value)).toBe(text);
  });
});

describe('parseMessage', () => {
  const Schema = z.object({ a: z.number(), b: z.string().default('x') });

  it('parses, validates and applies defaults', () => {
    const r = parseMessage(utf8Encode('{"a":1}'), Schema, 100);
    expect(r.ok && r.value).toEqual({ a: 1, b: 'x' });
  });

  it('refuses in order TOO_LARGE → BAD_JSON → BAD_MESSAGE', () => {
    expect(codeOf(parseMessage('{"a":1}'.padEnd(200, ' '), Schema, 100))).toBe('TOO_LARGE');
    expect(codeOf(parseMessage('{"a":', Schema, 100))).toBe('BAD_JSON');
    expect(codeOf(parseMessage('{"a":"1"}', Schema, 100))).toBe('BAD_MESSAGE');
  });

  it('measures a string cap in UTF-8 bytes', () => {
    const s = JSON.stringify({ a: 1, b: '🚀'.repeat(10) }); // 40 bytes of emoji, 20 UTF-16 units
    expect(codeOf(parseMessage(s, Schema, utf8Encode(s).length))).toBe('ok');
    expect(codeOf(parseMessage(s, Schema, utf8Encode(s).length - 1))).toBe('TOO_LARGE');
  });
});
