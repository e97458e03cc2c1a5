// A full disk mid-download: an agent whose data dir is a small tmpfs, with just the room its free-space
// check asks for, gets a 16 MiB model; once a quarter of it is in, the rest of the tmpfs is filled. The
// agent must keep serving the verified model it has (also when restarted with the disk still full), and
// finish the update by itself once that space returns (design §5). Needs root for `mount -t tmpfs`; the
// tmpfs is always unmounted.

import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, rmSync, statSync, statfsSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { ChaosContext } from '../campaign.js';
import { record, type Fleet } from '../fleet.js';
import { excerpt, sleep, waitFor } from '../procs.js';

const MiB = 1024 * 1024;
const BIG = 16 * MiB;
const BULKY = 'bulky';

/** Appends zeros to `file` until the filesystem says no (or `limit` bytes went in). */
function fill(file: string, limit = Number.MAX_SAFE_INTEGER): number {
  const fd = openSync(file, 'a');
  const block = Buffer.alloc(256 * 1024);
  let written = 0;
  try {
    while (written < limit) {
      const n = Math.min(block.length, limit - written);
      written += writeSync(fd, block, 0, n);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  return written;
}

const freeOf = (dir: string) => {
  const s = statfsSync(dir);
  return Number(s.bavail) * Number(s.bsize);
};

function partBytes(dataDir: string): number {
  try {
    return readdirSync(join(dataDir, 'models'))
      .filter((f) => f.endsWith('.part'))
      .reduce((n, f) => n + statSync(join(dataDir, 'models', f)).size, 0);
  } catch {
    return 0;
  }
}

export async function diskFull(ctx: ChaosContext, fleet: Fleet): Promise<void> {
  const row = ctx.row('disk-full');
  if (process.getuid?.() !== 0) {
    row.skipped = 'needs root (mount -t tmpfs)';
    ctx.note('disk-full', 'skipped: mounting a tmpfs needs root');
    return;
  }
  const { world } = fleet;
  for (let i = 1; i <= ctx.plan.faults['disk-full']; i++) {
    if (ctx.timeLeft() < 45_000) {
      ctx.note('disk-full', `out of time after ${i - 1} full disks`);
      break;
    }
    const mount = join(ctx.root, `tmpfs-${i}`);
    mkdirSync(mount, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=48m', 'tmpfs', mount]);
    const pool = `disk-${i}`;
    const dataDir = join(mount, 'agent');
    let agent;
    try {
      agent = await world.addAgent(`disk-agent-${i}`, pool, dataDir);
      const small = await world.pushVersion(BULKY, 64 * 1024);
      await world.rollout(BULKY, small.version, pool);
      if ((await world.waitVersion([agent], BULKY, small.version, 60_000)).length > 0) throw new Error(`${agent.id} never activated ${BULKY}@${small.version}`);
      const big = await world.pushVersion(BULKY, BIG);
      // leave just what the agent's free-space check asks for (size · 1.1 + 1 MiB) and a little more
      fill(join(mount, 'filler-0'), Math.max(0, freeOf(mount) - Math.ceil(BIG * 1.1 + 3 * MiB)));
      const free0 = freeOf(mount);
      await world.rollout(BULKY, big.version, pool);
      // mid-download: once a quarter of the artifact is on the tmpfs (the .part may be sparse, so count
      // blocks used, not its length)
      const started = await waitFor(() => free0 - freeOf(mount) >= BIG / 4, 30_000, 2);
      const downloaded = free0 - freeOf(mount);
      fill(join(mount, 'filler-1'));
      if (!started) ctx.note('disk-full', `${agent.id}: the download of ${BULKY}@${big.version} did not get a quarter in within 30 s; disk filled anyway`);
      row.injected++;
      ctx.log(`disk-full ${i}: tmpfs filled with ${Math.round(downloaded / 1024)} KiB of ${BULKY}@${big.version} (${Math.round(BIG / 1024)} KiB) downloaded`);
      await sleep(3000);
      // serving with the disk full, and again after a power cycle with it still full (start-up must not
      // need a write): one device not serving per fault at most
      const full = await world.check(agent, BULKY);
      if (!agent.alive()) ctx.note('disk-full', `${agent.id} exited on the full disk: ${excerpt(agent.output())}`);
      await agent.kill9();
      await agent.start(20_000);
      const rebooted = await world.check(agent, BULKY);
      const worst = full.verdict !== 'ok' ? full : rebooted;
      ctx.log(`disk-full ${i}: with the disk full ${agent.id} ${record(ctx, 'disk-full', agent, worst, full.verdict !== 'ok' ? 'with the disk full' : 'restarted with the disk full')}`);
      // the space taken mid-download comes back; what the disk held before stays (filler-0)
      rmSync(join(mount, 'filler-1'), { force: true });
      if (!agent.alive()) await agent.start(20_000);
      const stuck = await world.waitVersion([agent], BULKY, big.version, ctx.plan.settleMs);
      if (stuck.length > 0) {
        row.updatesStuck++;
        const after = await world.check(agent, BULKY);
        ctx.note('disk-full', `${agent.id} did not finish ${BULKY}@${big.version} within ${ctx.plan.settleMs / 1000} s of the space returning (${after.verdict === 'not-serving' ? `not serving: ${after.detail}` : `serves ${after.version}`}; .part of ${Math.round(partBytes(dataDir) / 1024)} KiB on disk)`);
        if (after.verdict !== 'ok') record(ctx, 'disk-full', agent, after, 'after space returned');
      } else {
        ctx.log(`disk-full ${i}: space back, ${agent.id} finished ${BULKY}@${big.version}`);
      }
    } finally {
      if (agent) {
        await agent.stop();
        world.agents.splice(world.agents.indexOf(agent), 1);
      }
      try {
        execFileSync('umount', [mount]);
      } catch {
        execFileSync('umount', ['-l', mount]);
      }
    }
  }
}
