// "host:port" parsing for the hub's listen options (design §2: port 0 picks a free port).

import { EdgefleetError } from '@edgefleet/protocol';

export function parseHostPort(value: string, what: string): { host: string; port: number } {
  const m = /^(.*):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new EdgefleetError('BAD_INPUT', `${what} must be HOST:PORT, got ${JSON.stringify(value)}`);
  const host = m[1]!.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  return { host, port };
}

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
