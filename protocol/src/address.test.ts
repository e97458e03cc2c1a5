import { describe, expect, it } from 'vitest';
import { EdgefleetError } from './errors.js';
import { parseHostPort } from './address.js';

describe('parseHostPort', () => {
  it('reads a host and port, an IPv6 host in brackets, and loopback for an empty host or a bare port', () => {
    expect(parseHostPort('0.0.0.0:8080')).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(parseHostPort('hub.local:0')).toEqual({ host: 'hub.local', port: 0 });
    expect(parseHostPort('[::1]:1883')).toEqual({ host: '::1', port: 1883 });
    expect(parseHostPort('::1:1883')).toEqual({ host: '::1', port: 1883 });
    expect(parseHostPort(':8090')).toEqual({ host: '127.0.0.1', port: 8090 });
    expect(parseHostPort('8090')).toEqual({ host: '127.0.0.1', port: 8090 });
    expect(parseHostPort(' 127.0.0.1:80 ')).toEqual({ host: '127.0.0.1', port: 80 });
  });

  it('refuses a missing or out-of-range port, and whitespace or a URL in the host with BAD_INPUT', () => {
    for (const bad of ['', 'host', 'host:', 'host:65536', 'host:-1', 'host:80x', 'a b:80', 'http://h:80']) {
      expect(() => parseHostPort(bad, 'http address'), bad).toThrow(EdgefleetError);
      try {
        parseHostPort(bad, 'http address');
      } catch (err) {
        expect((err as EdgefleetError).code).toBe('BAD_INPUT');
        expect((err as Error).message).toContain('http address must be HOST:PORT');
      }
    }
  });
});
