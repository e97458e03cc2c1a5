// Verification of signed documents: the agent's whole check order of design §3 as pure functions that
// return the verified content or an error code. Exact bytes are verified first, then parsed; never re-serialized.

import nacl from 'tweetnacl';
import type * as z from 'zod';
import { describeZodError, fail, ok, type Result } from './errors.js';
import { fromBase64, utf8Decode } from './encoding.js';
import { LIMITS } from './limits.js';
import { Command, DesiredState, Envelope, Keyring, Manifest, SIGNED_KINDS, type KeyRole, type SignedKind } from './schemas/index.js';
import { ed25519Verify, keyIdOf, signedMessage } from './signing.js';

export interface VerifyContext {
  /** This device's id (design §3: "deviceId is mine"). */
  deviceId: string;
  /** Highest sequence already applied for this document type; 0 when none. */
  lastSequence: number;
  keyring: Keyring;
  now: Date;
}

export interface VerifiedModel {
  manifest: Manifest;
  role: 'active' | 'shadow';
  rolloutId?: string;
  envelope: Envelope;
}

export interface VerifiedDesiredState {
  desired: DesiredState;
  models: VerifiedModel[];
}

/** Who may sign: the trusted keys, which are revoked, which role is required and how many must agree. */
export interface SignaturePolicy {
  keys: ReadonlyArray<{ keyId: string; publicKey: Uint8Array | string; roles: readonly string[] }>;
  revokedKeyIds: readonly string[];
  /** Role a signer must hold; null when any listed key will do (the pinned root). */
  role: KeyRole | null;
  threshold: number;
}

// ---- unsigned inbound JSON ----

function byteLength(raw: Uint8Array | string): number {
  if (typeof raw !== 'string') return raw.length;
  // UTF-8 length without allocating: 1–3 bytes per UTF-16 unit, 4 for a surrogate pair.
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < raw.length && (raw.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

function parseJson(raw: Uint8Array | string, what: string): Result<unknown> {
  try {
    const text = typeof raw === 'string' ? raw : utf8Decode(raw);
    return ok(JSON.parse(text) as unknown);
  } catch (err) {
    return fail('BAD_JSON', `${what} is not valid UTF-8 JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Unsigned inbound JSON (reported state, telemetry, events…): size cap → JSON parse → zod (design §4). */
export function parseMessage<S extends z.ZodType>(raw: Uint8Array | string, schema: S, maxBytes: number): Result<z.output<S>> {
  const size = byteLength(raw);
  if (size > maxBytes) return fail('TOO_LARGE', `message of ${size} bytes exceeds the ${maxBytes}-byte cap`);
  const json = parseJson(raw, 'message');
  if (!json.ok) return json;
  const parsed = schema.safeParse(json.value);
  if (!parsed.success) return fail('BAD_MESSAGE', `message does not match its schema: ${describeZodError(parsed.error)}`);
  return ok(parsed.data as z.output<S>);
}

// ---- signatures ----

function isSignedKind(v: unknown): v is SignedKind {
  return typeof v === 'string' && (SIGNED_KINDS as readonly string[]).includes(v);
}

/** The `kind` a payload claims for itself, if it is JSON naming a known signed kind. */
function declaredKind(payload: Uint8Array): SignedKind | null {
  try {
    const doc = JSON.parse(utf8Decode(payload)) as unknown;
    const kind = doc !== null && typeof doc === 'object' ? (doc as { kind?: unknown }).kind : undefined;
    return isSignedKind(kind) ? kind : null;
  } catch {
    return null;
  }
}

function decodeKey(k: Uint8Array | string): Uint8Array | null {
  if (typeof k !== 'string') return k;
  try {
    return fromBase64(k);
  } catch {
    return null;
  }
}

/**
 * Verify an envelope's signatures over its exact payload bytes (design §3) and return those bytes.
 * Valid signatures from distinct, listed, non-revoked keys holding the role are counted against the
 * threshold (TUF-style: extra unknown or bad signatures are ignored once the threshold is met).
 * Below threshold, the most telling reason is reported: REVOKED_KEY, then WRONG_KIND (the signatures
 * verify under the kind the payload declares — e.g. a manifest presented as a command), then
 * BAD_SIGNATURE, UNKNOWN_KEY, and finally BELOW_THRESHOLD (too few signers, or signers lacking the role).
 */
export function verifySignedPayload(env: Envelope, kind: SignedKind, policy: SignaturePolicy): Result<Uint8Array> {
  let payload: Uint8Array;
  try {
    payload = fromBase64(env.payload);
  } catch {
    return fail('BAD_MESSAGE', 'envelope payload is not base64');
  }
  const byId = new Map(policy.keys.map((k) => [k.keyId, k]));
  const revoked = new Set(policy.revokedKeyIds);
  const message = signedMessage(kind, payload);

  const valid = new Set<string>();
  const failures: Record<'revoked' | 'unknown' | 'bad' | 'role', string[]> = { revoked: [], unknown: [], bad: [], role: [] };
  const badSigs: Array<{ sig: Uint8Array; publicKey: Uint8Array }> = [];

  for (const s of env.signatures) {
    if (valid.has(s.keyId)) continue; // one key counts once, however many times it signs
    if (revoked.has(s.keyId)) {
      failures.revoked.push(s.keyId);
      continue;
    }
    const key = byId.get(s.keyId);
    const publicKey = key ? decodeKey(key.publicKey) : null;
    // A keyring entry whose keyId is not its key's hash is not that key (defends a mislabelled entry).
    if (!key || !publicKey || publicKey.length !== nacl.sign.publicKeyLength || keyIdOf(publicKey) !== s.keyId) {
      failures.unknown.push(s.keyId);
      continue;
    }
    let sig: Uint8Array;
    try {
      sig = fromBase64(s.sig);
    } catch {
      failures.bad.push(s.keyId);
      continue;
    }
    if (sig.length !== nacl.sign.signatureLength || !ed25519Verify(message, sig, publicKey)) {
      failures.bad.push(s.keyId);
      if (sig.length === nacl.sign.signatureLength) badSigs.push({ sig, publicKey });
      continue;
    }
    if (policy.role !== null && !key.roles.includes(policy.role)) {
      failures.role.push(s.keyId);
      continue;
    }
    valid.add(s.keyId);
  }

  // Never fewer than one signature, whatever a caller passes as threshold.
  if (valid.size >= Math.max(1, policy.threshold)) return ok(payload);

  const what = `${kind} envelope`;
  if (failures.revoked.length) return fail('REVOKED_KEY', `${what} signed by revoked key ${failures.revoked.join(', ')}`);
  if (failures.bad.length) {
    // Domain separation (design §3): a genuine signature made for another kind fails here; say so.
    const other = declaredKind(payload);
    if (other !== null && other !== kind && badSigs.length) {
      const otherMessage = signedMessage(other, payload);
      if (badSigs.some((b) => ed25519Verify(otherMessage, b.sig, b.publicKey))) {
        return fail('WRONG_KIND', `a ${other} envelope was presented as a ${kind}`);
      }
    }
    return fail('BAD_SIGNATURE', `${what}: signature by ${failures.bad.join(', ')} does not verify`);
  }
  if (failures.unknown.length) return fail('UNKNOWN_KEY', `${what} signed by key ${failures.unknown.join(', ')} not in the keyring`);
  const roleNote = failures.role.length ? `; key ${failures.role.join(', ')} lacks the ${policy.role} role` : '';
  const need = policy.role ? `${policy.role} signature(s)` : 'signature(s)';
  return fail('BELOW_THRESHOLD', `${what} has ${valid.size} valid ${need}, needs ${policy.threshold}${roleNote}`);
}

function keyringPolicy(keyring: Keyring, role: KeyRole): SignaturePolicy {
  return { keys: keyring.keys, revokedKeyIds: keyring.revokedKeyIds, role, threshold: keyring.threshold[role] };
}

function isExpired(expiresAt: string, now: Date): boolean {
  const t = Date.parse(expiresAt);
  return !Number.isFinite(t) || t <= now.getTime();
}

/** Envelope shape (from JSON or an already-parsed object) → BAD_MESSAGE. */
function parseEnvelope(value: unknown, what: string): Result<Envelope> {
  const env = Envelope.safeParse(value);
  if (!env.success) return fail('BAD_MESSAGE', `${what} is not a signed envelope: ${describeZodError(env.error)}`);
  return ok(env.data);
}

function readEnvelope(raw: Uint8Array | string, maxBytes: number, what: string): Result<Envelope> {
  const size = byteLength(raw);
  if (size > maxBytes) return fail('TOO_LARGE', `${what} of ${size} bytes exceeds the ${maxBytes}-byte cap`);
  const json = parseJson(raw, what);
  if (!json.ok) return json;
  return parseEnvelope(json.value, what);
}

/** Verified payload bytes → JSON → kind → zod, in that order (design §3 "→ kind"). */
function parsePayload<S extends z.ZodType>(payload: Uint8Array, kind: SignedKind, schema: S): Result<z.output<S>> {
  const json = parseJson(payload, `${kind} payload`);
  if (!json.ok) return json;
  const doc = json.value;
  const declared = doc !== null && typeof doc === 'object' ? (doc as { kind?: unknown }).kind : undefined;
  if (declared !== kind) return fail('WRONG_KIND', `expected a ${kind}, the signed payload is ${JSON.stringify(declared) ?? 'untyped'}`);
  const parsed = schema.safeParse(doc);
  if (!parsed.success) return fail('BAD_MESSAGE', `${kind} does not match its schema: ${describeZodError(parsed.error)}`);
  return ok(parsed.data as z.output<S>);
}

function checkKeyringCurrent(keyring: Keyring, now: Date): Result<null> {
  // An expired keyring is no longer a trust root (TUF 5.3.10): nothing is accepted until a fresh one arrives.
  if (isExpired(keyring.expiresAt, now)) return fail('EXPIRED', `keyring v${keyring.version} expired at ${keyring.expiresAt}`);
  return ok(null);
}

function prefixed<T>(r: Result<T> & { ok: false }, prefix: string): Result<never> {
  return fail(r.code, `${prefix}: ${r.message}`);
}

// ---- keyring ----

/**
 * Verify a keyring envelope against the pinned root key (design §3).
 * - Signed by the root key (keyId = keyIdOf(root)); any other signer is UNKNOWN_KEY.
 * - `version` must be higher than the current one. Versions may skip: an agent offline for months only
 *   ever sees the latest retained keyring, so v1 → v3 is accepted. Lower is KEYRING_ROLLBACK.
 * - The same version with the identical content is accepted (returns that keyring) so that a retained
 *   re-delivery on reconnect is harmless; the same version with different content is KEYRING_ROLLBACK.
 * - Then not expired.
 */
export function verifyKeyring(
  raw: Uint8Array | string,
  rootPublicKey: Uint8Array,
  current: Keyring | null,
  now: Date,
): Result<Keyring> {
  const env = readEnvelope(raw, LIMITS.keyring, 'keyring');
  if (!env.ok) return env;
  const rootId = keyIdOf(rootPublicKey);
  const payload = verifySignedPayload(env.value, 'keyring', {
    keys: [{ keyId: rootId, publicKey: rootPublicKey, roles: [] }],
    revokedKeyIds: [],
    role: null,
    threshold: 1,
  });
  if (!payload.ok) return payload;
  const parsed = parsePayload(payload.value, 'keyring', Keyring);
  if (!parsed.ok) return parsed;
  const keyring = parsed.value;
  for (const k of keyring.keys) {
    let pk: Uint8Array | null = null;
    try {
      pk = fromBase64(k.publicKey);
    } catch {
      pk = null;
    }
    if (!pk || pk.length !== nacl.sign.publicKeyLength || keyIdOf(pk) !== k.keyId) {
      return fail('BAD_MESSAGE', `keyring key ${k.keyId}: keyId does not match its public key`);
    }
  }
  if (current) {
    if (keyring.version < current.version) {
      return fail('KEYRING_ROLLBACK', `keyring v${keyring.version} is older than the current v${current.version}`);
    }
    if (keyring.version === current.version && !sameJson(keyring, current)) {
      return fail('KEYRING_ROLLBACK', `keyring v${keyring.version} differs from the current keyring of the same version`);
    }
  }
  if (isExpired(keyring.expiresAt, now)) return fail('EXPIRED', `keyring v${keyring.version} expired at ${keyring.expiresAt}`);
  return ok(keyring);
}

/** Structural equality of two JSON values, independent of object key order. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => sameJson(v, b[i]));
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  return ak.length === bk.length && ak.every((k) => sameJson(ao[k], bo[k]));
}

// ---- manifests, desired states, commands ----

/**
 * A model manifest: release role and threshold, kind, schema, not expired, release ≥ the keyring's
 * floor for that model (design §3). Takes an envelope already parsed (it arrives inside a desired state).
 */
export function verifyManifestEnvelope(env: Envelope, keyring: Keyring, now: Date): Result<Manifest> {
  const shape = parseEnvelope(env, 'manifest');
  if (!shape.ok) return shape;
  // Base64 inflates by 4/3; the cap is on the payload bytes.
  const approx = Math.floor((shape.value.payload.length * 3) / 4);
  if (approx > LIMITS.manifest + 2) return fail('TOO_LARGE', `manifest of ~${approx} bytes exceeds the ${LIMITS.manifest}-byte cap`);
  const current = checkKeyringCurrent(keyring, now);
  if (!current.ok) return current;
  const payload = verifySignedPayload(shape.value, 'model-manifest', keyringPolicy(keyring, 'release'));
  if (!payload.ok) return payload;
  const parsed = parsePayload(payload.value, 'model-manifest', Manifest);
  if (!parsed.ok) return parsed;
  const manifest = parsed.value;
  if (manifest.expiresAt !== undefined && isExpired(manifest.expiresAt, now)) {
    return fail('EXPIRED', `manifest ${manifest.model}@${manifest.version} expired at ${manifest.expiresAt}`);
  }
  const floor = keyring.releaseFloors[manifest.model];
  if (floor !== undefined && manifest.release < floor) {
    return fail('BELOW_RELEASE_FLOOR', `${manifest.model} release ${manifest.release} is below the floor ${floor}`);
  }
  return ok(manifest);
}

/** The director-signed part shared by desired states and commands: size → envelope → signatures → kind → schema → device → sequence → expiry. */
function verifyDirected<T extends DesiredState | Command>(
  raw: Uint8Array | string,
  ctx: VerifyContext,
  kind: T['kind'],
  schema: z.ZodType<T>,
  maxBytes: number,
): Result<T> {
  const env = readEnvelope(raw, maxBytes, kind);
  if (!env.ok) return env;
  const current = checkKeyringCurrent(ctx.keyring, ctx.now);
  if (!current.ok) return current;
  const payload = verifySignedPayload(env.value, kind, keyringPolicy(ctx.keyring, 'director'));
  if (!payload.ok) return payload;
  const parsed = parsePayload(payload.value, kind, schema);
  if (!parsed.ok) return parsed;
  const doc = parsed.value;
  if (doc.deviceId !== ctx.deviceId) return fail('WRONG_DEVICE', `${kind} is for device ${doc.deviceId}, not ${ctx.deviceId}`);
  if (doc.sequence <= ctx.lastSequence) {
    return fail('REPLAYED_SEQUENCE', `${kind} sequence ${doc.sequence} is not above the last applied ${ctx.lastSequence}`);
  }
  if (isExpired(doc.expiresAt, ctx.now)) return fail('EXPIRED', `${kind} ${doc.sequence} expired at ${doc.expiresAt}`);
  return parsed;
}

/**
 * The agent's whole check order of design §3 for a desired state: size cap → envelope signatures
 * (director threshold, role, not revoked) → kind → deviceId → sequence → expiry → each manifest
 * (release key, floor). Artifact hash and self-test come later, after download.
 */
export function verifyDesiredState(raw: Uint8Array | string, ctx: VerifyContext): Result<VerifiedDesiredState> {
  const directed = verifyDirected(raw, ctx, 'desired-state', DesiredState, LIMITS.desired);
  if (!directed.ok) return directed;
  const desired = directed.value;
  const models: VerifiedModel[] = [];
  for (const [i, m] of desired.models.entries()) {
    const manifest = verifyManifestEnvelope(m.manifest, ctx.keyring, ctx.now);
    if (!manifest.ok) return prefixed(manifest, `models[${i}]`);
    models.push({
      manifest: manifest.value,
      role: m.role,
      ...(m.rolloutId !== undefined ? { rolloutId: m.rolloutId } : {}),
      envelope: m.manifest,
    });
  }
  return ok({ desired, models });
}

/** A director-signed command (design §4): same order as a desired state, its own sequence counter. */
export function verifyCommand(raw: Uint8Array | string, ctx: VerifyContext): Result<Command> {
  return verifyDirected(raw, ctx, 'command', Command, LIMITS.command);
}
