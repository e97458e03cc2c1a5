// What an unauthenticated MQTT connection may hold (design §4: one client cannot exhaust the hub's memory):
// until its CONNACK a connection counts against a global cap of pending connections and a global byte
// budget, and may send only small packets (a CONNECT is a few hundred bytes). Past the CONNACK it is a
// device and the ordinary packet cap applies.

export interface PreAuthLimits {
  /** Connections accepted but not yet past CONNACK; one more is refused at once. */
  maxConnections: number;
  /** Bytes one connection may send before its CONNACK (and the packet cap until then). */
  connectionBytes: number;
  /** Bytes all pending connections together may have sent. */
  totalBytes: number;
}

export const PRE_AUTH_LIMITS: PreAuthLimits = { maxConnections: 256, connectionBytes: 64 * 1024, totalBytes: 8 * 1024 * 1024 };

export interface PreAuthTicket {
  /** Count bytes received; false when a budget is exceeded (the caller cuts the connection). */
  take(bytes: number): boolean;
  /** Authenticated (CONNACK sent) or gone: release what it held. Idempotent. */
  release(): void;
  readonly pending: boolean;
}

export interface PreAuthGate {
  /** A new connection's ticket, or null when the pending cap is reached (the caller closes it). */
  admit(): PreAuthTicket | null;
  stats(): { connections: number; bytes: number };
}

export function createPreAuthGate(limits: PreAuthLimits, onRefused: (reason: 'pending_limit' | 'pre_auth_bytes') => void): PreAuthGate {
  let connections = 0;
  let bytes = 0;
  return {
    admit() {
      if (connections >= limits.maxConnections) {
        onRefused('pending_limit');
        return null;
      }
      connections++;
      let used = 0;
      let pending = true;
      const ticket: PreAuthTicket = {
        take(n) {
          if (!pending) return true;
          used += n;
          bytes += n;
          if (used <= limits.connectionBytes && bytes <= limits.totalBytes) return true;
          onRefused('pre_auth_bytes');
          ticket.release();
          return false;
        },
        release() {
          if (!pending) return;
          pending = false;
          connections--;
          bytes -= used;
        },
        get pending() {
          return pending;
        },
      };
      return ticket;
    },
    stats: () => ({ connections, bytes }),
  };
}
