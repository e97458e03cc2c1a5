import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { describeZodError } from './errors.js';

describe('describeZodError', () => {
  const Body = z.object({ a: z.number(), b: z.string(), c: z.boolean(), d: z.number() });

  it('names the first three issues by path, one line', () => {
    const r = Body.safeParse({});
    expect(r.success).toBe(false);
    const line = describeZodError(r.error!);
    expect(line.split('; ').map((s) => s.split(':')[0])).toEqual(['a', 'b', 'c']);
  });

  it('calls a top-level issue by the root name the caller gives, and names every issue when asked', () => {
    expect(describeZodError(Body.safeParse(1).error!)).toMatch(/^\(root\): /);
    expect(describeZodError(Body.safeParse(1).error!, { root: 'body' })).toMatch(/^body: /);
    expect(describeZodError(Body.safeParse({}).error!, { max: Infinity }).split('; ')).toHaveLength(4);
  });
});
