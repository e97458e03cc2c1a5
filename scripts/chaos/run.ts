// `npm run chaos [-- --quick] [-- --seed N] [-- --only KIND,...] [-- --skip KIND,...] [-- --json]`: the
// bounded fault campaign of design §2 on this machine (everything on 127.0.0.1). Prints what was injected
// and what it cost; exits 1 when anything was lost, 2 when the campaign itself could not run.

import { parseArgs } from 'node:util';
import { FAULT_KINDS, formatTable, FULL, lossesOf, QUICK, type FaultKind, type Plan } from './campaign.js';
import { runCampaign } from './steps.js';

const USAGE = `usage: npm run chaos -- [--quick] [--seed N] [--only ${FAULT_KINDS.join(',')}] [--skip KIND,...]
  [--faults KIND=N,...] [--json]
  --quick   about 2–3 minutes (default: the full campaign, under 10 minutes)
  --seed N  the same seed draws the same fault points (timings still vary with the machine)`;

function kinds(v: string | undefined, flag: string): FaultKind[] {
  if (!v) return [];
  const out = v.split(',').map((s) => s.trim()).filter(Boolean);
  for (const k of out) if (!(FAULT_KINDS as readonly string[]).includes(k)) throw new Error(`--${flag}: unknown fault kind ${k} (known: ${FAULT_KINDS.join(', ')})`);
  return out as FaultKind[];
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: process.argv.slice(2).filter((a) => a !== '--'),
      options: {
        quick: { type: 'boolean' },
        seed: { type: 'string' },
        only: { type: 'string' },
        skip: { type: 'string' },
        faults: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    console.error(`chaos: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const base = values.quick ? QUICK : FULL;
  const plan: Plan = { ...base, faults: { ...base.faults } };
  const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
  try {
    if (!Number.isSafeInteger(seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);
    const only = kinds(values.only, 'only');
    for (const k of FAULT_KINDS) if ((only.length > 0 && !only.includes(k)) || kinds(values.skip, 'skip').includes(k)) plan.faults[k] = 0;
    for (const kv of values.faults?.split(',') ?? []) {
      const [k, n] = kv.split('=');
      const [kind] = kinds(k, 'faults');
      if (!kind || !/^\d+$/.test(n ?? '')) throw new Error(`--faults wants KIND=N, got ${kv}`);
      plan.faults[kind] = Number(n);
    }
  } catch (err) {
    console.error(`chaos: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const report = await runCampaign(plan, seed);
  if (values.json) console.log(JSON.stringify(report, null, 2));
  console.log(`\nchaos campaign, seed ${report.seed}, ${(report.elapsedMs / 1000).toFixed(0)} s\n`);
  console.log(formatTable(report));
  if (report.notes.length > 0) console.log(`\nnotes:\n${report.notes.map((n) => `  - ${n.replace(/\n/g, '\n    ')}`).join('\n')}`);
  if (report.errors.length > 0) console.log(`\ncampaign errors:\n${report.errors.map((e) => `  - ${e}`).join('\n')}`);
  const losses = lossesOf(report);
  console.log(`\n${losses === 0 && report.errors.length === 0 ? 'all zero' : `NOT all zero: ${losses} counted, ${report.errors.length} step errors`} (rerun with --seed ${report.seed})`);
  return report.errors.length > 0 ? 2 : losses > 0 ? 1 : 0;
}

process.exitCode = await main();
