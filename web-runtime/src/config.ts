// The agent config of a browser device (what `edgefleet device add --out` writes), checked before the page
// keeps it or the Worker starts on it. Apart from assemble.ts so the page bundle needs no agent core.

import { parseAgentConfig, type AgentConfig } from '@edgefleet/protocol';

/** Parse and check an agent config for a browser (a ws:// or wss:// broker); BAD_INPUT says what is wrong. */
export function parseWebAgentConfig(input: unknown): AgentConfig {
  return parseAgentConfig(input, { browser: true });
}
