// The agent's configuration file: what `edgefleet device add --out` writes (design §2).

import * as z from 'zod';
import { Base64, DeviceId } from './primitives.js';
import { fromBase64 } from '../encoding.js';
import { EdgefleetError } from '../errors.js';

/** A Host header value the agent's local API answers besides its bind address and loopback (design §5): `name` or `name:port`, IPv6 in brackets. */
export const ApiHost = z.string().regex(/^([A-Za-z0-9_.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(:\d{1,5})?$/, 'a host name, IPv4 or [IPv6], optionally :port');

export const AgentConfig = z.object({
  deviceId: DeviceId,
  brokers: z.object({ tcp: z.string().url().optional(), ws: z.string().url().optional() }),
  username: z.string().min(1).max(128),
  password: z.string().min(16).max(256),
  /** Pinned root public key, base64 (design §3). */
  rootPublicKey: Base64,
  /** Hub HTTP base URL, for range-request artifact downloads. */
  hubUrl: z.string().url().optional(),
  dataDir: z.string().min(1).default('./edgefleet-agent-data'),
  api: z.string().default('127.0.0.1:8090'),
  /**
   * The directory whose files a signed `batch` command may name (input, and where the output is written);
   * without it the agent refuses every `batch` command. Relative paths are taken from the data dir.
   */
  batchDir: z.string().min(1).optional(),
  /** The local API's extra Host names and per-request caps (design §5); the agent's defaults when left out. */
  localApi: z
    .object({
      hosts: z.array(ApiHost).max(64).optional(),
      maxBodyBytes: z.number().int().min(1024).max(1024 * 1024 * 1024).optional(),
      maxElements: z.number().int().min(1).max(2 ** 31).optional(),
      maxRows: z.number().int().min(1).max(2 ** 31).optional(),
    })
    .optional(),
  /**
   * Field-data capture on this device (design §4 capture): the device's own operator has the last word over
   * what the hub's signed policy asks for. `enabled: false` captures nothing; `maxDiskBytes` caps the policy's disk budget.
   */
  capture: z.object({ enabled: z.boolean().default(true), maxDiskBytes: z.number().int().min(0).optional() }).optional(),
});
export type AgentConfig = z.infer<typeof AgentConfig>;

/**
 * An agent config checked for use (what `edgefleet device add --out` writes): the schema, a broker the
 * platform can dial (a browser only speaks WebSocket), and a 32-byte root key; BAD_INPUT says what is wrong.
 */
export function parseAgentConfig(input: unknown, options: { browser?: boolean } = {}): AgentConfig {
  const r = AgentConfig.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    throw new EdgefleetError('BAD_INPUT', `invalid agent config: ${where}${issue?.message ?? 'invalid'}`);
  }
  const c = r.data;
  if (options.browser) {
    if (!c.brokers.ws || !/^wss?:\/\//.test(c.brokers.ws)) throw new EdgefleetError('BAD_INPUT', 'invalid agent config: a browser needs brokers.ws (a ws:// or wss:// URL)');
  } else if (!c.brokers.tcp && !c.brokers.ws) throw new EdgefleetError('BAD_INPUT', 'invalid agent config: brokers needs a tcp or ws URL');
  let root: Uint8Array;
  try {
    root = fromBase64(c.rootPublicKey);
  } catch {
    root = new Uint8Array();
  }
  if (root.length !== 32) throw new EdgefleetError('BAD_INPUT', 'invalid agent config: rootPublicKey must be a base64 Ed25519 public key (32 bytes)');
  return c;
}
