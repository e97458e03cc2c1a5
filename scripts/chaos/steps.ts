// The campaign as a step list (each step one fault kind, or the fleet's setup and settling), run in
// order within the plan's time budget. A step that throws is reported and the next one runs.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createContext, FAULT_KINDS, type ChaosContext, type FaultKind, type Plan, type Report } from './campaign.js';
import { agentKill } from './faults/agent-kill.js';
import { brokerRestart } from './faults/broker-restart.js';
import { diskFull } from './faults/disk-full.js';
import { hostileDevice } from './faults/hostile-device.js';
import { hubKill } from './faults/hub-kill.js';
import { settleFleet, setupFleet, type Fleet } from './fleet.js';
import { builtBinsMissing, killSpawned } from './procs.js';

interface State {
  fleet?: Fleet;
}

interface Step {
  name: string;
  /** Fault kinds this step serves: it runs only if one of them is planned. */
  kinds: FaultKind[];
  /** Least time left to start it (ms). */
  needsMs: number;
  run(ctx: ChaosContext, s: State): Promise<void>;
}

const fleetOf = (s: State): Fleet => {
  if (!s.fleet) throw new Error('the fleet did not start');
  return s.fleet;
};

const FLEET_KINDS: FaultKind[] = ['hub-kill', 'agent-kill', 'disk-full'];

export const STEPS: Step[] = [
  { name: 'fleet: hub, agents, telemetry publishers', kinds: FLEET_KINDS, needsMs: 30_000, run: async (ctx, s) => void (s.fleet = await setupFleet(ctx)) },
  { name: 'kill -9 the hub', kinds: ['hub-kill'], needsMs: 30_000, run: (ctx, s) => hubKill(ctx, fleetOf(s)) },
  { name: 'kill -9 agents', kinds: ['agent-kill'], needsMs: 30_000, run: (ctx, s) => agentKill(ctx, fleetOf(s)) },
  { name: 'fill an agent disk', kinds: ['disk-full'], needsMs: 45_000, run: (ctx, s) => diskFull(ctx, fleetOf(s)) },
  // always, once the fleet ran: the acknowledged-telemetry count needs the final clean restart
  { name: 'fleet: converge, clean restart, count stored telemetry', kinds: FLEET_KINDS, needsMs: -Infinity, run: (ctx, s) => settleFleet(ctx, fleetOf(s)) },
  { name: 'fleet: stop', kinds: FLEET_KINDS, needsMs: -Infinity, run: async (_ctx, s) => void (await s.fleet?.world.close()) },
  { name: 'restart mosquitto (--broker)', kinds: ['broker-restart'], needsMs: 40_000, run: (ctx) => brokerRestart(ctx) },
  { name: 'hostile device payloads', kinds: ['hostile-device'], needsMs: 20_000, run: (ctx) => hostileDevice(ctx) },
];

/** tmpfs mounts left under `root` by an interrupted disk-full step. */
function unmountUnder(root: string): void {
  let mounts = '';
  try {
    mounts = readFileSync('/proc/mounts', 'utf8');
  } catch {
    return;
  }
  for (const line of mounts.split('\n')) {
    const target = line.split(' ')[1];
    if (target?.startsWith(root)) {
      try {
        execFileSync('umount', ['-l', target]);
      } catch {
        // reported by rm below if it matters
      }
    }
  }
}

export async function runCampaign(plan: Plan, seed: number, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<Report> {
  const missing = builtBinsMissing();
  if (missing) throw new Error(missing);
  const root = mkdtempSync(join(tmpdir(), 'edgefleet-chaos-'));
  const ctx = createContext(plan, seed, root, log);
  const state: State = {};
  const cleanup = () => {
    killSpawned();
    unmountUnder(root);
    rmSync(root, { recursive: true, force: true });
  };
  const onSignal = () => {
    log('chaos: interrupted, stopping every process it started');
    cleanup();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    ctx.log(`chaos: seed ${seed}, budget ${Math.round(plan.budgetMs / 1000)} s, faults ${FAULT_KINDS.map((k) => `${k} ${plan.faults[k]}`).join(', ')}`);
    for (const k of FAULT_KINDS) if (plan.faults[k] === 0) ctx.row(k).skipped = 'not selected';
    let fleetFailed = false;
    for (const step of STEPS) {
      if (!step.kinds.some((k) => plan.faults[k] > 0)) continue;
      if (fleetFailed && step.kinds === FLEET_KINDS) continue;
      const single = step.kinds.length === 1 ? step.kinds[0]! : null;
      if (single && plan.faults[single] === 0) continue;
      if (ctx.timeLeft() < step.needsMs) {
        if (single) ctx.row(single).skipped = 'out of time';
        ctx.note('campaign', `skipped "${step.name}": out of time`);
        continue;
      }
      ctx.log(`== ${step.name}`);
      try {
        await step.run(ctx, state);
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        ctx.report.errors.push(`${step.name}: ${msg}`);
        ctx.log(`!! ${step.name} failed: ${msg}`);
        if (step.kinds === FLEET_KINDS && !state.fleet) fleetFailed = true;
      }
    }
  } finally {
    await state.fleet?.world.close().catch(() => undefined);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    cleanup();
  }
  ctx.report.elapsedMs = Date.now() - ctx.startedAt;
  return ctx.report;
}
