// The update loop (design §5): apply a verified desired state, reconcile the slots with it through the
// pure plan (update-plan.ts), install one task at a time, retry failures with backoff, wait out a full
// disk, and roll back.

import { toEdgefleetError, type EdgefleetError } from '@edgefleet/protocol';
import type { AgentContext, StoredDesired } from '../context.js';
import { createDownloader, type Downloader, type DownloaderOptions } from '../downloader.js';
import type { Serving } from '../serving.js';
import {
  activeRemoved,
  desiredArrived,
  emptySlot,
  installAbandoned,
  installFailed,
  planUpdates,
  settingsOf,
  shadowRemoved,
  type InstallTask,
} from '../update-plan.js';
import { install, spaceNeeded } from './install.js';
import { createRollbacks, type Rollbacks } from './rollback.js';

export interface UpdaterOptions {
  serving: Serving;
  scheduleReport: () => void;
  /** Downloader tuning (window, timeouts, HTTP path, multicast, …). */
  download: Omit<DownloaderOptions, 'deviceId' | 'transport' | 'store' | 'clock' | 'random' | 'log'>;
  /** Install retry backoff after a failed download or verification (doubles, with jitter). */
  retryBaseMs: number;
  retryMaxMs: number;
  /** After DISK_FULL: how often free space is checked. */
  diskPollMs: number;
}

export interface Updater extends Rollbacks {
  readonly downloader: Downloader;
  /** Reconcile now (or again right after the reconcile under way). */
  kick(): void;
  /** A verified desired state: remember it, lift blocks, cancel a download it no longer wants, reconcile. */
  applyDesired(desired: StoredDesired): Promise<void>;
  /** Stopping: cancel the download under way. */
  stop(): void;
}

export function createUpdater(ctx: AgentContext, options: UpdaterOptions): Updater {
  const { state, clock, log, random } = ctx;
  const { serving } = options;
  const downloader = createDownloader({ assemble: !ctx.runtime.loadShared, ...options.download, deviceId: ctx.deviceId, transport: ctx.transport, canRequest: () => ctx.transport.connected && ctx.state.subscribed, store: ctx.store, clock, random, log });
  const rollbacks = createRollbacks(ctx, serving);
  const deps = { ctx, serving, downloader };
  /** Attempts per artifact sha256; −1 while waiting for its retry timer. */
  const attempts = new Map<string, number>();
  let reconciling = false;
  let reconcileAgain = false;

  function kick(): void {
    if (!state.running) return;
    if (reconciling) {
      reconcileAgain = true;
      return;
    }
    reconciling = true;
    void (async () => {
      try {
        do {
          reconcileAgain = false;
          await reconcileOnce();
        } while (reconcileAgain && state.running);
      } catch (err) {
        // whatever failed (a store write, most likely) is tried again later; the agent keeps serving
        log(`reconcile failed: ${String(err)}`);
        clock.setTimeout(kick, options.retryBaseMs);
      } finally {
        reconciling = false;
      }
    })();
  }

  async function reconcileOnce(): Promise<void> {
    const desired = state.desired;
    if (!desired) return;
    const plan = planUpdates(state.slots, desired.models);
    for (const name of plan.removeShadow) await removeRole(name, 'shadow');
    for (const name of plan.removeActive) await removeRole(name, 'active');
    for (const task of plan.install) {
      if (!state.running || reconcileAgain) return;
      const n = attempts.get(task.ref.sha256) ?? 0;
      if (n < 0) continue; // waiting for its retry timer
      try {
        await install(task, n, deps);
        attempts.delete(task.ref.sha256);
      } catch (err) {
        const e = toEdgefleetError(err);
        if (!state.running) return;
        const stillWanted = state.desired?.models.some((m) => m.role === task.role && m.manifest.artifact.sha256 === task.ref.sha256) ?? false;
        if (!stillWanted) {
          // superseded by a newer desired state while installing: not a failure, just stop
          await ctx.enqueue(async () => {
            const slot = state.slots[task.manifest.model];
            if (slot?.pending?.sha256 === task.ref.sha256) {
              ctx.setSlot(installAbandoned(slot));
              await ctx.saveSlots();
            }
          });
          continue;
        }
        await ctx.enqueue(() => afterInstallFailure(task, e, n));
      }
    }
  }

  /** The desired state no longer names this role of `name`: out of service, and out of the slot. */
  function removeRole(name: string, role: 'active' | 'shadow'): Promise<void> {
    return ctx.enqueue(async () => {
      const s = state.served.get(name);
      const live = s?.[role];
      if (s && live) {
        serving.retire(live);
        s[role] = null;
      }
      const slot = state.slots[name];
      if (slot) ctx.setSlot(role === 'active' ? activeRemoved(slot) : shadowRemoved(slot));
      await ctx.saveSlots();
    });
  }

  async function afterInstallFailure(task: InstallTask, e: EdgefleetError, n: number): Promise<void> {
    const name = task.manifest.model;
    const slot = state.slots[name] ?? emptySlot(name);
    const permanent = e.code === 'SELF_TEST_FAILED' || e.code === 'MODEL_LOAD_FAILED';
    ctx.setSlot(installFailed(slot, task.ref.sha256, { code: e.code, message: e.message }, permanent));
    await ctx.saveSlots();
    const type = e.code === 'SELF_TEST_FAILED' ? 'self-test-failed' : e.code === 'MODEL_LOAD_FAILED' ? 'load-failed' : e.code === 'HASH_MISMATCH' || e.code === 'SIZE_MISMATCH' ? 'verification-failed' : 'download-failed';
    ctx.emit(type, `${name}@${task.manifest.version}: ${e.message}`, { model: name, version: task.manifest.version, code: e.code });
    if (permanent) return; // verified bytes that fail the same way every time: wait for a newer desired state
    attempts.set(task.ref.sha256, -1);
    if (e.code === 'DISK_FULL') {
      waitForSpace(task, n);
      return;
    }
    // Retry with exponential backoff and jitter.
    const delay = Math.min(options.retryBaseMs * 2 ** n, options.retryMaxMs) * (0.5 + random() * 0.5);
    clock.setTimeout(() => {
      attempts.set(task.ref.sha256, n + 1);
      kick();
    }, delay);
  }

  /** After DISK_FULL: a cheap free-space check on a timer, and the install resumes once there is room. */
  function waitForSpace(task: InstallTask, n: number): void {
    const sha = task.ref.sha256;
    const poll = async (): Promise<void> => {
      if (!state.running || attempts.get(sha) !== -1) return; // stopped, or a newer desired state restarted it
      const free = await ctx.store.freeBytes().catch(() => null);
      const need = await spaceNeeded(downloader, task.manifest).catch(() => 0);
      if (free === null || free >= need) {
        attempts.set(sha, n); // no backoff growth: the disk, not the download, was the problem
        kick();
        return;
      }
      clock.setTimeout(() => void poll(), options.diskPollMs);
    };
    clock.setTimeout(() => void poll(), options.diskPollMs);
  }

  return {
    ...rollbacks,
    downloader,
    kick,

    async applyDesired(desired) {
      state.desired = desired;
      const windowBefore = state.settings.windowSeconds;
      state.settings = settingsOf(desired.telemetry);
      if (state.settings.windowSeconds !== windowBefore) serving.rewindow();
      state.refusal = null;
      for (const slot of Object.values(state.slots)) state.slots[slot.name] = desiredArrived(slot);
      attempts.clear();
      const current = state.download;
      if (current && !desired.models.some((m) => m.manifest.artifact.sha256 === current.sha256)) current.control.cancelled = true;
      await ctx.persist('desired', desired);
      await ctx.saveSlots();
      log(`desired state ${desired.sequence} applied: ${desired.models.map((m) => `${m.manifest.model}@${m.manifest.version}/${m.role}`).join(', ') || 'no models'}`);
      options.scheduleReport();
      ctx.changed();
      kick();
    },

    stop() {
      if (state.download) state.download.control.cancelled = true;
    },
  };
}
