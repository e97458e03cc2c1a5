import { describe, expect, it } from 'vitest';
import { createPreAuthGate } from './pre-auth.js';

describe('pre-auth gate', () => {
  it('refuses the connection past the cap and admits again once one is released', () => {
    const refused: string[] = [];
    const gate = createPreAuthGate({ maxConnections: 2, connectionBytes: 100, totalBytes: 1000 }, (r) => refused.push(r));
    const a = gate.admit()!;
    gate.admit();
    expect(gate.admit()).toBeNull();
    expect(refused).toEqual(['pending_limit']);
    a.release();
    a.release(); // idempotent
    expect(gate.stats().connections).toBe(1);
    expect(gate.admit()).not.toBeNull();
  });

  it('cuts a connection past its own budget or the global one, and gives its bytes back', () => {
    const refused: string[] = [];
    const gate = createPreAuthGate({ maxConnections: 10, connectionBytes: 100, totalBytes: 150 }, (r) => refused.push(r));
    const a = gate.admit()!;
    expect(a.take(60)).toBe(true);
    expect(a.take(41)).toBe(false); // 101 > 100
    expect(a.pending).toBe(false);
    expect(gate.stats()).toEqual({ connections: 0, bytes: 0 });
    const b = gate.admit()!;
    const c = gate.admit()!;
    expect(b.take(90)).toBe(true);
    expect(c.take(70)).toBe(false); // 160 > 150 in all
    expect(gate.stats()).toEqual({ connections: 1, bytes: 90 });
    b.release(); // authenticated: no longer counted, and no longer metered
    expect(b.take(10_000)).toBe(true);
    expect(gate.stats()).toEqual({ connections: 0, bytes: 0 });
    expect(refused).toEqual(['pre_auth_bytes', 'pre_auth_bytes']);
  });
});
