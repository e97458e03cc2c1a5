// kill -9 of agents at random points of a download and activation (each round rolls a new version out),
// then a restart on the same data dir: the agent must serve the old or the new model, never a partial
// one (design §5 "Crash at any point"), checked against bare onnxruntime for each version.

import type { ChaosContext } from '../campaign.js';
import { fleetStates, record, type Fleet } from '../fleet.js';
import { excerpt, sleep } from '../procs.js';
import { MODEL } from '../world.js';

export async function agentKill(ctx: ChaosContext, fleet: Fleet): Promise<void> {
  const row = ctx.row('agent-kill');
  const { world } = fleet;
  let round = 0;
  while (row.injected < ctx.plan.faults['agent-kill']) {
    if (ctx.timeLeft() < 30_000) {
      ctx.note('agent-kill', `out of time after ${row.injected} kills`);
      break;
    }
    round++;
    const v = await world.pushVersion(MODEL, ctx.plan.modelBytes);
    await world.rollout(MODEL, v.version, 'main');
    // one agent or several at once, never more than the kills left
    const left = ctx.plan.faults['agent-kill'] - row.injected;
    const victims = fleet.main.filter(() => ctx.rng() < 0.6).slice(0, left);
    if (victims.length === 0) victims.push(ctx.pick(fleet.main));
    const delay = ctx.int(0, Math.round(fleet.activateMs * 1.3));
    await sleep(delay);
    const states = await fleetStates(world, victims.map((a) => a.id));
    await Promise.all(victims.map((a) => a.kill9()));
    row.injected += victims.length;
    ctx.log(`agent-kill round ${round}: kill -9 ${victims.map((a) => a.id).join(', ')} rolling out ${v.version} (+${delay} ms; ${states})`);
    const restarted = await Promise.all(victims.map((a) => a.start()));
    const seen = [];
    for (const [k, a] of victims.entries()) {
      if (!restarted[k]) {
        row.devicesNotServing++;
        ctx.note('agent-kill', `${a.id} does not start again after kill -9: ${excerpt(a.output())}`);
        continue;
      }
      seen.push(`${a.id} ${record(ctx, 'agent-kill', a, await world.check(a, MODEL), `restarted after kill in round ${round}`)}`);
    }
    ctx.log(`agent-kill round ${round}: restarted; ${seen.join(', ')}`);
  }
}
