// What a chaos campaign is: a plan (how many faults of each kind, how long at most), a context every
// fault function gets (seeded randomness, the report it writes into, a temp root), and the report
// printed as one table. The step list that runs it is in run.ts.

import { mulberry32, type Rng } from '../lib/random.js';

export const FAULT_KINDS = ['hub-kill', 'agent-kill', 'disk-full', 'broker-restart', 'hostile-device'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface Plan {
  /** Faults to inject per kind (0: the kind is not run). */
  faults: Record<FaultKind, number>;
  /** Agents (child processes) in the fleet the kills hit. */
  agents: number;
  /** Wall-clock budget: steps not started by then are skipped and said so. */
  budgetMs: number;
  /** Bytes of each model version rolled out to the fleet (big enough that kills land mid-download). */
  modelBytes: number;
  /** Heap cap of hub children (MiB). */
  hubHeapMb: number;
  /** How long an update may take to finish once its fault is over before it counts as stuck. */
  settleMs: number;
}

export const QUICK: Plan = {
  faults: { 'hub-kill': 3, 'agent-kill': 4, 'disk-full': 1, 'broker-restart': 2, 'hostile-device': 15 },
  agents: 2,
  budgetMs: 200_000,
  modelBytes: 2 * 1024 * 1024,
  hubHeapMb: 256,
  settleMs: 40_000,
};

export const FULL: Plan = {
  faults: { 'hub-kill': 8, 'agent-kill': 12, 'disk-full': 2, 'broker-restart': 5, 'hostile-device': 15 },
  agents: 3,
  budgetMs: 480_000,
  modelBytes: 3 * 1024 * 1024,
  hubHeapMb: 256,
  settleMs: 60_000,
};

/** One row of the table: what a fault kind injected and what it cost. */
export interface KindResult {
  injected: number;
  /** Telemetry batches a device got a PUBACK for (in the worlds where the kind ran ingest). */
  acked: number;
  ackedLost: number;
  duplicates: number;
  corruptActivations: number;
  devicesNotServing: number;
  hubRestartsNeeded: number;
  /** Devices that never finished an update they could finish once the fault was over. */
  updatesStuck: number;
  /** Why the kind did not run (not root, no mosquitto, out of time), if it did not. */
  skipped?: string;
}

export interface Report {
  seed: number;
  kinds: Record<FaultKind, KindResult>;
  /** Observations worth reading beside the numbers (which payload killed the hub, which seqs were lost). */
  notes: string[];
  /** Steps that could not finish (the campaign itself failed: not a loss, but not a pass either). */
  errors: string[];
  elapsedMs: number;
}

export interface ChaosContext {
  readonly plan: Plan;
  readonly rng: Rng;
  readonly report: Report;
  /** A temp dir for this campaign's data dirs, removed at the end. */
  readonly root: string;
  readonly startedAt: number;
  log(line: string): void;
  note(kind: FaultKind | 'campaign', line: string): void;
  /** Milliseconds left of the budget. */
  timeLeft(): number;
  /** A uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number;
  pick<T>(xs: readonly T[]): T;
  row(kind: FaultKind): KindResult;
}

const emptyRow = (): KindResult => ({
  injected: 0,
  acked: 0,
  ackedLost: 0,
  duplicates: 0,
  corruptActivations: 0,
  devicesNotServing: 0,
  hubRestartsNeeded: 0,
  updatesStuck: 0,
});

export function createContext(plan: Plan, seed: number, root: string, log: (line: string) => void): ChaosContext {
  const rng = mulberry32(seed);
  const startedAt = Date.now();
  const report: Report = {
    seed,
    kinds: Object.fromEntries(FAULT_KINDS.map((k) => [k, emptyRow()])) as Record<FaultKind, KindResult>,
    notes: [],
    errors: [],
    elapsedMs: 0,
  };
  const stamp = () => `${((Date.now() - startedAt) / 1000).toFixed(1).padStart(6)}s`;
  return {
    plan,
    rng,
    report,
    root,
    startedAt,
    log: (line) => log(`${stamp()} ${line}`),
    note(kind, line) {
      report.notes.push(`${kind}: ${line}`);
      log(`${stamp()} ${kind}: ${line}`);
    },
    timeLeft: () => plan.budgetMs - (Date.now() - startedAt),
    int: (lo, hi) => lo + Math.floor(rng() * (hi - lo + 1)),
    pick: (xs) => xs[Math.floor(rng() * xs.length)]!,
    row: (kind) => report.kinds[kind],
  };
}

/** The columns whose non-zero value fails the campaign (design §2: "all zero"). */
export const LOSS_COLUMNS = ['ackedLost', 'duplicates', 'corruptActivations', 'devicesNotServing', 'hubRestartsNeeded', 'updatesStuck'] as const;

export function lossesOf(report: Report): number {
  let n = 0;
  for (const k of FAULT_KINDS) for (const c of LOSS_COLUMNS) n += report.kinds[k][c];
  return n;
}

export function formatTable(report: Report): string {
  const header = ['fault', 'injected', 'acked telemetry lost', 'duplicates', 'corrupt activations', 'devices not serving', 'hub restarts needed', 'updates stuck'];
  const rows = FAULT_KINDS.map((k) => {
    const r = report.kinds[k];
    if (r.skipped && r.injected === 0) return [k, `skipped: ${r.skipped}`, '', '', '', '', '', ''];
    return [
      k,
      String(r.injected),
      r.acked > 0 ? `${r.ackedLost} of ${r.acked}` : String(r.ackedLost),
      String(r.duplicates),
      String(r.corruptActivations),
      String(r.devicesNotServing),
      String(r.hubRestartsNeeded),
      String(r.updatesStuck),
    ];
  });
  const sum = (c: keyof KindResult) => FAULT_KINDS.reduce((n, k) => n + (report.kinds[k][c] as number), 0);
  const acked = sum('acked');
  rows.push([
    'total',
    String(sum('injected')),
    acked > 0 ? `${sum('ackedLost')} of ${acked}` : String(sum('ackedLost')),
    ...(['duplicates', 'corruptActivations', 'devicesNotServing', 'hubRestartsNeeded', 'updatesStuck'] as const).map((c) => String(sum(c))),
  ]);
  // a skipped row's reason spans the number columns: keep it out of their widths
  const widths = header.map((h, i) => Math.max(h.length, ...rows.filter((r) => i !== 1 || !r[1]!.startsWith('skipped')).map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 || c.startsWith('skipped') ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  ')];
  rows.forEach((r, i) => {
    if (i === rows.length - 1) out.push(widths.map((w) => '-'.repeat(w)).join('  '));
    out.push(line(r));
  });
  return out.join('\n');
}
