// The closed set of error codes (design §10) and the one error class that carries them.
// Every boundary maps these once: HTTP status in the hub, exit code in the CLI, OIP error in the agent.

export const ERROR_CODES = [
  // signed-document checks, in the agent's order (design §3)
  'TOO_LARGE',
  'BAD_JSON',
  'BAD_MESSAGE',
  'BAD_SIGNATURE',
  'UNKNOWN_KEY',
  'REVOKED_KEY',
  'BELOW_THRESHOLD',
  'WRONG_KIND',
  'WRONG_DEVICE',
  'REPLAYED_SEQUENCE',
  'EXPIRED',
  'BELOW_RELEASE_FLOOR',
  'KEYRING_ROLLBACK',
  // artifacts and activation
  'HASH_MISMATCH',
  'SIZE_MISMATCH',
  'DISK_FULL',
  'DOWNLOAD_FAILED',
  'SELF_TEST_FAILED',
  'MODEL_LOAD_FAILED',
  'PROBATION_FAILED',
  'INFERENCE_FAILED',
  // models pushed to the hub
  'NOT_ONNX',
  'INVALID_MODEL',
  'VALIDATION_FAILED',
  // requests
  'BAD_INPUT',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  // a device sending faster than its per-device limit (design §4: one client cannot exhaust the hub)
  'RATE_LIMITED',
  'UNAVAILABLE',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const CODE_SET: ReadonlySet<string> = new Set(ERROR_CODES);

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && CODE_SET.has(value);
}

/** HTTP status for each code; the hub's API and the agent's local API both use this table. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  TOO_LARGE: 413,
  BAD_JSON: 400,
  BAD_MESSAGE: 400,
  BAD_SIGNATURE: 400,
  UNKNOWN_KEY: 400,
  REVOKED_KEY: 400,
  BELOW_THRESHOLD: 400,
  WRONG_KIND: 400,
  WRONG_DEVICE: 400,
  REPLAYED_SEQUENCE: 409,
  EXPIRED: 400,
  BELOW_RELEASE_FLOOR: 409,
  KEYRING_ROLLBACK: 409,
  HASH_MISMATCH: 422,
  SIZE_MISMATCH: 422,
  DISK_FULL: 507,
  DOWNLOAD_FAILED: 502,
  SELF_TEST_FAILED: 422,
  MODEL_LOAD_FAILED: 422,
  PROBATION_FAILED: 500,
  INFERENCE_FAILED: 500,
  NOT_ONNX: 422,
  INVALID_MODEL: 422,
  VALIDATION_FAILED: 422,
  BAD_INPUT: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

/** A domain failure: one class, a code from the closed set, the original cause kept. */
export class EdgefleetError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EdgefleetError';
    this.code = code;
  }

  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** Result of a check that refuses with a code instead of throwing (untrusted input paths). */
export type Result<T> = { ok: true; value: T } | { ok: false; code: ErrorCode; message: string };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const fail = <T = never>(code: ErrorCode, message: string): Result<T> => ({ ok: false, code, message });

/** Turn any thrown value into an EdgefleetError (unknown errors become INTERNAL). */
export function toEdgefleetError(err: unknown, fallback: ErrorCode = 'INTERNAL'): EdgefleetError {
  if (err instanceof EdgefleetError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new EdgefleetError(fallback, message, { cause: err });
}

export interface DescribeZodErrorOptions {
  /** What an issue at the top level is called ('body', 'query'); default '(root)'. */
  root?: string;
  /** Issues named at most (default 3; Infinity for all). */
  max?: number;
}

/**
 * A zod error as one line for a BAD_INPUT / BAD_MESSAGE message: `path: message; …`, the first `max` issues.
 * Structurally typed so this file stays free of zod.
 */
export function describeZodError(
  error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] },
  options: DescribeZodErrorOptions = {},
): string {
  const { root = '(root)', max = 3 } = options;
  return error.issues
    .slice(0, max)
    .map((i) => `${i.path.length ? i.path.join('.') : root}: ${i.message}`)
    .join('; ');
}
