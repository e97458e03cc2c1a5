// Durations as operators write them (design §2 `--soak 10m`, `--since 1h`): one pure parser, shared by the
// hub's rollout request (soak, device timeout, as sent over the API) and its CLI.

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * "10m", "30s", "1h", "250ms", "1d" or, unless `unitRequired`, a bare number of milliseconds → milliseconds
 * (rounded); null when the text is none of those.
 */
export function parseDuration(text: string, options: { unitRequired?: boolean } = {}): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!m || (options.unitRequired && m[2] === undefined)) return null;
  return Math.round(Number(m[1]) * UNIT_MS[(m[2] ?? 'ms') as keyof typeof UNIT_MS]);
}
