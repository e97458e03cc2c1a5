// Addresses of the hub's listeners as clients dial them (design §2: port 0 picks a free port); the
// "HOST:PORT" grammar itself is protocol's parseHostPort, shared with the agent.

export { parseHostPort } from '@edgefleet/protocol';


/** The address clients should dial for a bound server (a wildcard bind is reached on loopback). */
export function dialHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * The broker URLs written into agent configs: the operator's, else the external broker's without the hub's
 * credentials, else the embedded broker's bound addresses.
 */
export function agentBrokerUrls(
  configured: { tcp?: string; ws?: string } | undefined,
  externalBroker: string | undefined,
  embedded: { mqtt?: string; ws?: string },
): { tcp?: string; ws?: string } {
  if (configured) return configured;
  if (externalBroker) {
    const u = new URL(externalBroker);
    u.username = '';
    u.password = '';
    const url = u.toString().replace(/\/$/, '');
    return u.protocol.startsWith('ws') ? { ws: url } : { tcp: url };
  }
  return { ...(embedded.mqtt ? { tcp: embedded.mqtt } : {}), ...(embedded.ws ? { ws: embedded.ws } : {}) };
}
