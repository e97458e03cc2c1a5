// The fleet the kills hit (hub-kill, agent-kill, disk-full steps): a hub on the embedded broker, the
// plan's agents on the model's first version, and devices publishing acknowledged telemetry the whole
// time. `settleFleet` ends it: every device on the last version, a clean hub restart, and the count of
// acknowledged batches the hub's database does not hold.

import type { ChaosContext, FaultKind } from './campaign.js';
import { excerpt, sleep } from './procs.js';
import { accountTelemetry, startAckedPublisher, type AckedPublisher, type PublisherDevice } from './telemetry.js';
import { createWorld, MODEL, type Serving, type World } from './world.js';
import type { AgentProcess } from './procs.js';

export interface Fleet {
  world: World;
  main: AgentProcess[];
  publisher: AckedPublisher;
  publishers: PublisherDevice[];
  /** Milliseconds from rollout start to every agent active on v1: the span kills are drawn from. */
  activateMs: number;
}

export async function setupFleet(ctx: ChaosContext): Promise<Fleet> {
  const world = await createWorld(ctx, 'fleet');
  try {
    const main = await Promise.all(Array.from({ length: ctx.plan.agents }, (_, i) => world.addAgent(`agent-${i}`, 'main')));
    const v1 = await world.pushVersion(MODEL, ctx.plan.modelBytes);
    const t0 = Date.now();
    await world.rollout(MODEL, v1.version, 'main');
    const missing = await world.waitVersion(main, MODEL, v1.version, 90_000);
    if (missing.length > 0) throw new Error(`fleet: ${missing.map((a) => a.id).join(', ')} never activated ${MODEL}@${v1.version}`);
    const activateMs = Math.max(500, Date.now() - t0);
    const publishers = await Promise.all([0, 1, 2, 3].map((i) => world.addDevice(`tel-${i}`)));
    const publisher = startAckedPublisher({ url: world.hub.mqtt, devices: publishers, model: MODEL, version: v1.version });
    ctx.log(`fleet: hub ${world.hub.http}, ${main.length} agents on ${MODEL}@${v1.version} after ${activateMs} ms, ${publishers.length} telemetry publishers`);
    return { world, main, publisher, publishers, activateMs };
  } catch (err) {
    await world.close();
    throw err;
  }
}

/** Counts a check's verdict in the row of the fault that preceded it; returns it for the log. */
export function record(ctx: ChaosContext, kind: FaultKind, agent: AgentProcess, s: Serving, when: string): string {
  const row = ctx.row(kind);
  if (s.verdict === 'corrupt') {
    row.corruptActivations++;
    ctx.note(kind, `${agent.id} ${when}: corrupt activation: ${s.detail}`);
  } else if (s.verdict === 'not-serving') {
    row.devicesNotServing++;
    ctx.note(kind, `${agent.id} ${when}: not serving: ${s.detail}${agent.alive() ? '' : ` (${excerpt(agent.output())})`}`);
  }
  return s.verdict === 'not-serving' ? 'not serving' : s.version;
}

/** Each agent's model state as the hub last heard it ("downloading 40%"), for the log line of a kill. */
export async function fleetStates(world: World, ids: string[]): Promise<string> {
  try {
    const devices = await Promise.race([world.api.devices(), sleep(1500).then(() => [])]);
    const byId = new Map(devices.map((d) => [d.id, d]));
    return ids
      .map((id) => {
        const m = (byId.get(id)?.reported as { models?: Record<string, { state?: string; progress?: number }> } | null)?.models?.[MODEL];
        if (!m?.state) return `${id} ?`;
        return `${id} ${m.state}${m.state === 'downloading' && m.progress !== undefined ? ` ${Math.round(m.progress * 100)}%` : ''}`;
      })
      .join(', ');
  } catch {
    return 'states unknown';
  }
}

/**
 * Every main agent reaches the last version once the faults stop (else an update is stuck), the
 * publishers stop, and after a clean restart the hub's database is compared with what was acknowledged.
 */
export async function settleFleet(ctx: ChaosContext, fleet: Fleet): Promise<void> {
  const { world } = fleet;
  const last = world.versions(MODEL).at(-1)!;
  const stuck = await world.waitVersion(fleet.main, MODEL, last.version, ctx.plan.settleMs);
  for (const a of stuck) {
    // charged to the fault that last touched the fleet's rollouts
    const kind: FaultKind = ctx.row('agent-kill').injected > 0 ? 'agent-kill' : 'hub-kill';
    ctx.row(kind).updatesStuck++;
    const s = await world.check(a, MODEL);
    ctx.note(kind, `${a.id} never reached ${MODEL}@${last.version} (serves ${s.verdict === 'not-serving' ? 'nothing' : s.version}; the hub last heard: ${await fleetStates(world, [a.id])})`);
  }
  await fleet.publisher.stop();
  await waitStored(world, fleet.publisher);
  if (!(await world.hub.stop())) ctx.note('hub-kill', 'the hub did not stop cleanly on SIGTERM (killed after 15 s)');
  if (!(await world.restartHub('hub-kill', 'the final clean restart'))) throw new Error('fleet: the hub does not start after a clean stop');
  const account = accountTelemetry(`${world.hub.dataDir}/hub.db`, fleet.publisher.acked);
  const row = ctx.row('hub-kill');
  row.acked += account.acked;
  row.ackedLost += account.lost;
  row.duplicates += account.duplicates;
  ctx.log(`fleet: ${account.acked} batches acknowledged (${fleet.publisher.published()} published), ${account.lost} lost, ${account.duplicates} duplicated`);
  if (account.lost > 0) ctx.note('hub-kill', `${account.lost} of ${account.acked} acknowledged telemetry batches are not in the hub's database (e.g. ${account.examples.join(', ')})`);
}

/** Acknowledged batches not in the database yet (includes the few of the last milliseconds still in flight). */
export function lostSoFar(world: World, publisher: AckedPublisher): string {
  try {
    const a = accountTelemetry(`${world.hub.dataDir}/hub.db`, publisher.acked);
    return `${a.acked} batches acked, ${a.lost} not stored`;
  } catch (err) {
    return `telemetry unknown (${(err as Error).message})`;
  }
}

/** Waits until the hub has stored what it is going to store (nothing new for 2 s, at most 20 s). */
export async function waitStored(world: World, publisher: AckedPublisher): Promise<void> {
  let last = -1;
  let stableSince = Date.now();
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    let lost: number;
    try {
      lost = accountTelemetry(`${world.hub.dataDir}/hub.db`, publisher.acked).lost;
    } catch {
      lost = -2;
    }
    if (lost === 0) return;
    if (lost !== last) {
      last = lost;
      stableSince = Date.now();
    } else if (Date.now() - stableSince > 2000) return;
    await sleep(250);
  }
}
