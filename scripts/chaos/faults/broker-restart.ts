// Broker restarts in `--broker` mode (design §8): a real Mosquitto with the project's ACL and the password
// file the hub keeps, killed (-9) or restarted (SIGTERM) at random points of ingest and of a rollout. The
// hub and agents must reconnect by themselves, devices keep serving, updates finish, and every telemetry
// batch the hub confirmed to its device (Mosquitto's PUBACK is not the hub's, design §4 telemetry confirm)
// must end up in the hub's database.

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mosquittoPasswordHash } from '@edgefleet/hub';
import type { ChaosContext } from '../campaign.js';
import { fleetStates, lostSoFar, record, waitStored } from '../fleet.js';
import { hubMosquittoConf } from '../../sim/hub-processes.js';
import { createMosquittoProcess, freePort, MOSQUITTO, mqttAccepts, sleep } from '../procs.js';
import { accountTelemetry, startAckedPublisher } from '../telemetry.js';
import { createWorld, MODEL } from '../world.js';

const ACL = fileURLToPath(new URL('../../../hub/mosquitto/acl', import.meta.url));
const HUB_PASSWORD = 'chaos-hub-password';

export async function brokerRestart(ctx: ChaosContext): Promise<void> {
  const row = ctx.row('broker-restart');
  if (!existsSync(MOSQUITTO)) {
    row.skipped = `no ${MOSQUITTO} (scripts/install-system-deps.sh)`;
    ctx.note('broker-restart', `skipped: ${MOSQUITTO} is not installed`);
    return;
  }
  const dir = join(ctx.root, 'mosquitto');
  mkdirSync(join(dir, 'db'), { recursive: true });
  const port = await freePort();
  const passwordFile = join(dir, 'passwd');
  const pidFile = join(dir, 'mosquitto.pid');
  writeFileSync(passwordFile, `edgefleet_hub:${mosquittoPasswordHash(HUB_PASSWORD)}\n`, { mode: 0o600 });
  const conf = join(dir, 'mosquitto.conf');
  // hub/mosquitto/mosquitto.conf, on a free port in a temp dir: persistence on, as the shipped config has it
  writeFileSync(conf, hubMosquittoConf({ port, passwordFile, aclFile: ACL, pidFile, persistenceDir: join(dir, 'db') }));
  const broker = createMosquittoProcess(conf, port, pidFile);
  if (!(await broker.start())) throw new Error(`mosquitto did not start:\n${broker.output()}`);
  const url = `mqtt://edgefleet_hub:${HUB_PASSWORD}@127.0.0.1:${port}`;
  let world;
  try {
    world = await createWorld(ctx, 'broker', { broker: { url, passwordFile, pidFile } });
    const agent = await world.addAgent('broker-agent-0', 'main');
    const v1 = await world.pushVersion(MODEL, ctx.plan.modelBytes);
    const t0 = Date.now();
    await world.rollout(MODEL, v1.version, 'main');
    if ((await world.waitVersion([agent], MODEL, v1.version, 90_000)).length > 0) throw new Error(`${agent.id} never activated ${MODEL}@${v1.version} through mosquitto`);
    const activateMs = Math.max(500, Date.now() - t0);
    const devices = await Promise.all([0, 1, 2].map((i) => world!.addDevice(`btel-${i}`)));
    // the hub rewrote the password file and sent SIGHUP: wait until mosquitto knows the publishers
    for (const d of devices) await mqttAccepts(`mqtt://127.0.0.1:${port}`, d.id, d.token);
    // a hub behind Mosquitto confirms committed seqs (design §4 telemetry confirm): only that counts, as for the agent
    const publisher = startAckedPublisher({ url: `mqtt://127.0.0.1:${port}`, devices, model: MODEL, version: v1.version, confirm: true });
    for (let i = 1; i <= ctx.plan.faults['broker-restart']; i++) {
      if (ctx.timeLeft() < 30_000) {
        ctx.note('broker-restart', `out of time after ${i - 1} restarts`);
        break;
      }
      const during = ctx.rng() < 0.5 ? 'ingest' : 'rollout';
      let delay = ctx.int(200, 1500);
      if (during === 'rollout') {
        const v = await world.pushVersion(MODEL, ctx.plan.modelBytes);
        await world.rollout(MODEL, v.version, 'main');
        delay = ctx.int(0, Math.round(activateMs * 1.3));
      }
      await sleep(delay);
      const how = ctx.rng() < 0.5 ? 'kill -9' : 'SIGTERM';
      const states = await fleetStates(world, [agent.id]);
      if (how === 'kill -9') await broker.kill9();
      else await broker.stop();
      row.injected++;
      ctx.log(`broker-restart ${i}: mosquitto ${how} during ${during} (+${delay} ms; ${states}; so far ${lostSoFar(world, publisher)})`);
      await sleep(ctx.int(200, 1500)); // down for a moment
      if (!(await broker.start())) throw new Error(`mosquitto did not start again:\n${broker.output()}`);
      if (!(await world.hub.serving())) {
        row.hubRestartsNeeded++;
        ctx.note('broker-restart', `the hub stopped serving after mosquitto ${how}`);
        await world.hub.kill9();
        if (!(await world.restartHub('broker-restart', `mosquitto ${how}`))) throw new Error('the hub does not come back');
      }
      ctx.log(`broker-restart ${i}: mosquitto back; ${agent.id} ${record(ctx, 'broker-restart', agent, await world.check(agent, MODEL), `after mosquitto ${how}`)}`);
    }
    const last = world.versions(MODEL).at(-1)!;
    if ((await world.waitVersion([agent], MODEL, last.version, ctx.plan.settleMs)).length > 0) {
      row.updatesStuck++;
      ctx.note('broker-restart', `${agent.id} never reached ${MODEL}@${last.version} within ${ctx.plan.settleMs / 1000} s of the last broker restart (the hub last heard: ${await fleetStates(world, [agent.id])})`);
    }
    await publisher.stop();
    const unconfirmed = publisher.unconfirmed?.() ?? 0;
    if (unconfirmed > 0) ctx.note('broker-restart', `${unconfirmed} batches still unconfirmed when the publishers stopped (kept by a device, not lost)`);
    await waitStored(world, publisher);
    if (!(await world.hub.stop())) ctx.note('broker-restart', 'the hub did not stop cleanly on SIGTERM');
    if (!(await world.restartHub('broker-restart', 'the final clean restart'))) throw new Error('the hub does not start after a clean stop');
    const account = accountTelemetry(join(world.hub.dataDir, 'hub.db'), publisher.acked);
    row.acked += account.acked;
    row.ackedLost += account.lost;
    row.duplicates += account.duplicates;
    ctx.log(`broker-restart: ${account.acked} batches confirmed by the hub, ${account.lost} lost, ${account.duplicates} duplicated`);
    if (account.lost > 0) ctx.note('broker-restart', `${account.lost} of ${account.acked} batches the hub confirmed are not in the hub's database (e.g. ${account.examples.join(', ')})`);
  } finally {
    await world?.close();
    await broker.stop();
  }
}
