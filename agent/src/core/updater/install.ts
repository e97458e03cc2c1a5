// One install as design §5's ordered steps: check free disk → pull chunks → verify length and sha256 →
// load in a fresh session → run the manifest's self-test → warm up → swap atomically → keep the previous
// version on disk. Each step is named and runs in order (like aedes' connect actions); the `exclusive`
// ones run in the core's queue, consecutive ones as one queued job, so nothing interleaves with a swap.

import { EdgefleetError, type Manifest } from '@edgefleet/protocol';
import type { AgentContext } from '../context.js';
import type { DownloadControl, Downloader } from '../downloader.js';
import type { ModelSession } from '../runtime.js';
import type { Serving } from '../serving.js';
import { activated, downloadProgressed, downloadStarted, emptySlot, selfTesting, shadowStarted, verifying, type InstallTask } from '../update-plan.js';
import { collectGarbage } from './gc.js';

export interface InstallDeps {
  ctx: AgentContext;
  serving: Serving;
  downloader: Downloader;
}

/** One install in progress: what the steps hand on to each other. */
interface InstallJob {
  task: InstallTask;
  name: string;
  /** > 0: a retry, whose last error stays reported until one succeeds. */
  attempt: number;
  /** The artifact was on disk before this install. */
  onDisk: boolean;
  /** Verified and committed by this download (not found on disk). */
  fresh: boolean;
  /** The bytes this download verified, when it kept them in memory. */
  downloaded: Uint8Array | null;
  /** Verified bytes to load (the download's, or read back from disk), or null when the runtime shares one session per file. */
  bytes: Uint8Array | null;
  shared: ((sha256: string, read: () => Promise<Uint8Array>) => Promise<ModelSession>) | undefined;
  session: ModelSession | null;
  loadedAt: number;
  loadMs: number;
}

export interface Step<J, D> {
  name: string;
  /** Runs in the core's queue (with the exclusive steps next to it). */
  exclusive?: boolean;
  run(job: J, deps: D): Promise<void>;
}

export type InstallStep = Step<InstallJob, InstallDeps>;

/** Free bytes an install still needs: what the partial download lacks, plus headroom (design §5). */
export async function spaceNeeded(downloader: Downloader, manifest: Manifest): Promise<number> {
  const a = manifest.artifact;
  const have = await downloader.bytesReceived({ sha256: a.sha256, size: a.size, chunkSize: a.chunkSize });
  return (a.size - have) * 1.1 + 1024 * 1024;
}

/** A self-test that fails releases the session it was given. */
async function testOrRelease(job: InstallJob, { serving }: InstallDeps): Promise<void> {
  try {
    await serving.selfTest(job.session!, job.task.manifest);
  } catch (err) {
    await job.session!.release().catch(() => {});
    throw err;
  }
}

export const INSTALL_STEPS: readonly InstallStep[] = [
  {
    name: 'record manifest',
    // written only when new: an artifact already on disk can be activated on a full disk
    async run({ task }, { ctx }) {
      const doc = { manifest: task.manifest, envelope: task.envelope };
      const key = `manifest:${task.ref.sha256}`;
      if (JSON.stringify(await ctx.store.get(key)) !== JSON.stringify(doc)) await ctx.store.put(key, doc);
    },
  },
  {
    name: 'report downloading',
    exclusive: true,
    async run({ task, name, attempt }, { ctx }) {
      ctx.setSlot(downloadStarted(ctx.state.slots[name] ?? emptySlot(name), task.ref, attempt > 0, task.rolloutId));
      await ctx.saveSlots();
    },
  },
  {
    name: 'check free disk',
    async run(job, { ctx, downloader }) {
      const { manifest, ref } = job.task;
      job.onDisk = await ctx.store.hasArtifact(ref.sha256);
      if (job.onDisk) return;
      // bytes already in the partial download count: a resumed download needs room only for the rest
      const free = await ctx.store.freeBytes();
      const need = await spaceNeeded(downloader, manifest);
      if (free !== null && free < need) {
        throw new EdgefleetError('DISK_FULL', `need ${Math.ceil(need)} more bytes for ${job.name}@${manifest.version} (${manifest.artifact.size} in all), ${free} free`);
      }
    },
  },
  {
    name: 'download and verify',
    async run(job, { ctx, downloader }) {
      if (job.onDisk) return;
      const { manifest, ref } = job.task;
      const { state, clock } = ctx;
      const control: DownloadControl = {
        cancelled: false,
        onProgress: (received, total) => {
          const slot = state.slots[job.name];
          if (!slot || slot.pending?.sha256 !== ref.sha256) return;
          const progress = total === 0 ? 1 : received / total;
          // quarter steps: every reported state is a retained publish the hub ingests, times a whole wave
          if (slot.progress === undefined || progress - slot.progress >= 0.25 || received === total) ctx.setSlot(downloadProgressed(slot, progress));
        },
      };
      state.download = { sha256: ref.sha256, control };
      const t0 = clock.now();
      try {
        ({ fresh: job.fresh, bytes: job.downloaded } = await downloader.fetchArtifact(
          { sha256: ref.sha256, size: manifest.artifact.size, chunkSize: manifest.artifact.chunkSize, ...(manifest.artifact.urls ? { urls: manifest.artifact.urls } : {}) },
          control,
        ));
      } finally {
        state.download = null;
      }
      ctx.log(`${job.name}@${manifest.version}: ${manifest.artifact.size} bytes downloaded and verified in ${clock.now() - t0} ms`);
    },
  },
  {
    name: 're-read verified bytes',
    exclusive: true,
    async run(job, { ctx, serving }) {
      const { ref } = job.task;
      const slot = ctx.state.slots[job.name] ?? emptySlot(job.name);
      if (slot.pending?.sha256 !== ref.sha256) throw new EdgefleetError('CONFLICT', 'superseded');
      ctx.setSlot(verifying(slot));
      // The bytes a download just verified are loaded as they are; an artifact found on disk is read and
      // checked again. A runtime hosting many agents (the simulator) may hold one session per model file.
      job.shared = job.fresh ? ctx.runtime.loadShared?.bind(ctx.runtime) : undefined;
      job.bytes = job.shared ? null : (job.downloaded ?? (await serving.readVerified(ref)));
      ctx.setSlot(selfTesting(ctx.state.slots[job.name]!));
      await ctx.saveSlots();
    },
  },
  {
    name: 'load in a fresh session',
    exclusive: true,
    // design §5: nothing reaches the runtime unverified
    async run(job, { ctx, serving }) {
      const { ref } = job.task;
      const shared = job.shared;
      const t1 = ctx.clock.now();
      const verified = job.downloaded;
      job.session = await serving.loadSession(job.bytes ?? (() => shared!(ref.sha256, async () => verified ?? serving.readVerified(ref))));
      job.bytes = job.downloaded = null; // the session has what it needs
      job.loadedAt = ctx.clock.now();
      job.loadMs = job.loadedAt - t1;
    },
  },
  { name: 'self-test', exclusive: true, run: testOrRelease },
  {
    name: 'warm up',
    exclusive: true,
    // the first real request must not pay for lazy init
    async run(job, deps) {
      await testOrRelease(job, deps);
      deps.ctx.log(`${job.name}@${job.task.manifest.version}: session loaded in ${job.loadMs} ms, self-tested and warmed up in ${deps.ctx.clock.now() - job.loadedAt} ms`);
    },
  },
  {
    name: 'swap',
    exclusive: true,
    async run({ task, name, session }, { ctx, serving }) {
      const { manifest, ref } = task;
      const { state } = ctx;
      const live = serving.makeLive(name, manifest, session!, task.role);
      const s = serving.servedOf(name);
      if (task.role === 'active') {
        const old = s.active;
        const next = activated(state.slots[name]!, ref, ctx.clock.now(), state.settings, task.rolloutId);
        live.onProbation = next.probation !== null;
        s.stats = { inferences: 0, errors: 0 };
        s.active = live; // the swap: one assignment; in-flight requests hold the old Live
        serving.retire(old);
        ctx.setSlot(next);
        await ctx.saveSlots();
        ctx.emit('activated', `${name}@${manifest.version} active${old ? ` (was ${old.ref.version})` : ''}`, { model: name, version: manifest.version });
      } else {
        const old = s.shadow;
        s.shadow = live;
        serving.retire(old);
        ctx.setSlot(shadowStarted(state.slots[name]!, ref));
        await ctx.saveSlots();
        ctx.emit('shadow-started', `${name}@${manifest.version} running as shadow`, { model: name, version: manifest.version });
      }
    },
  },
  {
    name: 'remove unused versions',
    exclusive: true,
    // the previous version stays on disk: collectGarbage keeps whatever a slot names
    async run(_job, { ctx }) {
      await collectGarbage(ctx).catch((err: unknown) => ctx.storageFailed('removing unused models', err));
    },
  },
];

/** Run `steps` in order; consecutive exclusive steps run as one job of `enqueue`. */
export async function runSteps<J, D>(steps: readonly Step<J, D>[], job: J, deps: D, enqueue: (fn: () => Promise<void>) => Promise<void>): Promise<void> {
  for (let i = 0; i < steps.length; ) {
    const step = steps[i]!;
    if (!step.exclusive) {
      await step.run(job, deps);
      i++;
      continue;
    }
    let j = i;
    while (j < steps.length && steps[j]!.exclusive) j++;
    const group = steps.slice(i, j);
    await enqueue(async () => {
      for (const s of group) await s.run(job, deps);
    });
    i = j;
  }
}

/** Install `task`; throws the step's EdgefleetError when one fails. */
export function install(task: InstallTask, attempt: number, deps: InstallDeps): Promise<void> {
  const job: InstallJob = { task, name: task.manifest.model, attempt, onDisk: false, fresh: false, downloaded: null, bytes: null, shared: undefined, session: null, loadedAt: 0, loadMs: 0 };
  return runSteps(INSTALL_STEPS, job, deps, (fn) => deps.ctx.enqueue(fn));
}
