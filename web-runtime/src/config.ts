// The agent config of a browser device (what `edgefleet device add --out` writes), checked before the page
// keeps it or the Worker starts on it. Apart from assemble.ts so the page bundle needs no agent core.

import { AgentConfig, EdgefleetError, fromBase64 } from '@edgefleet/protocol';

/** Parse and check an agent config for a browser; BAD_INPUT says what is wrong. */
export function parseWebAgentConfig(input: unknown): AgentConfig {
  const r = AgentConfig.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    throw new EdgefleetError('BAD_INPUT', `invalid agent config: ${where}${issue?.message ?? 'invalid'}`);
  }
  const c = r.data;
  if (!c.brokers.ws || !/^wss?:\/\//.test(c.brokers.ws)) throw new EdgefleetError('BAD_INPUT', 'invalid agent config: a browser needs brokers.ws (a ws:// or wss:// URL)');
  let root: Uint8Array;
  try {
    root = fromBase64(c.rootPublicKey);
  } catch {
    root = new Uint8Array();
  }
  if (root.length !== 32) throw new EdgefleetError('BAD_INPUT', 'invalid agent config: rootPublicKey must be a base64 Ed25519 public key (32 bytes)');
  return c;
}
