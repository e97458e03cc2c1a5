// "HOST:PORT" as operators write listen addresses (design §2: `--http`, `--mqtt`, `--ws`, the agent's
// `--api`; port 0 picks a free port): one grammar for hub and agent. An IPv6 host may go in brackets; an
// empty host (":8080") or a bare port ("8080") means loopback — never a wildcard by accident.
import { EdgefleetError } from './errors.js';

export function parseHostPort(value: string, what = 'address'): { host: string; port: number } {
  const text = value.trim();
  const m = /^(?:(.*):)?(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  const rawHost = m?.[1] ?? '';
  // the port is what follows the last colon, so "::1:80" is host ::1 (brackets are clearer, and accepted)
  const bracketed = /^\[(.*)\]$/.exec(rawHost);
  if (!m || port > 65535 || /[\s/]/.test(rawHost)) {
    throw new EdgefleetError('BAD_INPUT', `${what} must be HOST:PORT, got ${JSON.stringify(value)}`);
  }
  return { host: (bracketed ? bracketed[1]! : rawHost) || '127.0.0.1', port };
}
