// Identifiers and scalar formats every document of design §3, §4 and §6 is built from.

import * as z from 'zod';
import { DEVICE_ID_PATTERN } from '../topics.js';
import { ERROR_CODES } from '../errors.js';

export const DeviceId = z.string().regex(DEVICE_ID_PATTERN, 'device id must match [a-z0-9][a-z0-9-]{0,62}');
export const ModelName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'model name must match [a-z0-9][a-z0-9._-]{0,63}');
export const SemVer = z
  .string()
  .regex(/^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/, 'version must be semver');
export const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'sha256 must be 64 lowercase hex chars');
export const KeyId = z.string().regex(/^[0-9a-f]{16}$/, 'keyId must be 16 lowercase hex chars');
export const Base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');
export const IsoTime = z.iso.datetime({ offset: true });
export const ErrorCodeSchema = z.enum(ERROR_CODES);
