// kill -9 of the hub at random points of ingest (always running), rollouts (two waves with a soak) and
// downloads (one wave to every agent): restarted on the same data dir and ports, it must come back
// serving by itself, and the devices must keep serving a whole model through its outage (design §5, §7).

import type { ChaosContext } from '../campaign.js';
import { fleetStates, lostSoFar, record, type Fleet } from '../fleet.js';
import { sleep } from '../procs.js';
import { MODEL } from '../world.js';

const PHASES = ['ingest', 'rollout', 'download'] as const;

export async function hubKill(ctx: ChaosContext, fleet: Fleet): Promise<void> {
  const row = ctx.row('hub-kill');
  const { world } = fleet;
  for (let i = 1; i <= ctx.plan.faults['hub-kill']; i++) {
    if (ctx.timeLeft() < 30_000) {
      ctx.note('hub-kill', `out of time after ${i - 1} kills`);
      break;
    }
    const phase = ctx.pick(PHASES);
    let delay = ctx.int(100, 1500);
    if (phase !== 'ingest') {
      const v = await world.pushVersion(MODEL, ctx.plan.modelBytes);
      await world.rollout(MODEL, v.version, 'main', phase === 'rollout' ? [50, 100] : [100]);
      delay = ctx.int(0, Math.round(fleet.activateMs * 1.3));
    }
    await sleep(delay);
    const states = await fleetStates(world, fleet.main.map((a) => a.id));
    await world.hub.kill9();
    row.injected++;
    ctx.log(`hub-kill ${i}: kill -9 during ${phase} (+${delay} ms; ${states}; so far ${lostSoFar(world, fleet.publisher)})`);
    // offline first (design §5): with the hub gone the devices go on serving what they run
    for (const a of fleet.main) record(ctx, 'hub-kill', a, await world.check(a, MODEL), `while the hub was down (kill ${i})`);
    if (!(await world.restartHub('hub-kill', `kill -9 #${i} during ${phase}`))) throw new Error('the hub does not come back after kill -9');
    // and once it is back, every device still answers with a whole model
    const seen = [];
    for (const a of fleet.main) seen.push(`${a.id} ${record(ctx, 'hub-kill', a, await world.check(a, MODEL), `after hub kill ${i}`)}`);
    ctx.log(`hub-kill ${i}: hub serving again; ${seen.join(', ')}`);
  }
}
