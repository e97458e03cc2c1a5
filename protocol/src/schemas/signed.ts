// The signing envelope and the keyring (design §3): what every signed document travels in and is checked against.

import * as z from 'zod';
import { Base64, IsoTime, KeyId, ModelName } from './primitives.js';

// ---- signing envelope (design §3) ----

export const Signature = z.object({ keyId: KeyId, sig: Base64 });
export type Signature = z.infer<typeof Signature>;

export const Envelope = z.object({
  payload: Base64,
  signatures: z.array(Signature).min(1).max(16),
});
export type Envelope = z.infer<typeof Envelope>;

export const SIGNED_KINDS = ['keyring', 'model-manifest', 'desired-state', 'command'] as const;
export type SignedKind = (typeof SIGNED_KINDS)[number];

export const KeyRole = z.enum(['release', 'director']);
export type KeyRole = z.infer<typeof KeyRole>;

// ---- keyring ----

export const KeyringKey = z.object({
  keyId: KeyId,
  publicKey: Base64,
  roles: z.array(KeyRole).min(1),
});
export type KeyringKey = z.infer<typeof KeyringKey>;

export const Keyring = z.object({
  kind: z.literal('keyring'),
  version: z.number().int().min(1),
  expiresAt: IsoTime,
  keys: z.array(KeyringKey).max(64),
  threshold: z.object({ release: z.number().int().min(1), director: z.number().int().min(1) }),
  revokedKeyIds: z.array(KeyId).max(1024).default([]),
  releaseFloors: z.record(ModelName, z.number().int().min(0)).default({}),
});
export type Keyring = z.infer<typeof Keyring>;
