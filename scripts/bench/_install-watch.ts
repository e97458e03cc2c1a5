// Watches one install on an agent core (the Node agent's in this process, or the browser agent's inside its
// Worker, bundled into the bench's worker probe): when the slot started downloading the version, when the
// bytes were in and checked (the slot left `downloading`), when the version became active. No imports, so
// it bundles for a Worker as it is.

/** The part of AgentCore watched here. */
export interface WatchedCore {
  slots(): Record<string, { state: string; active: { version: string } | null; pending: { version: string } | null } | undefined>;
  waitFor(predicate: (core: never) => boolean, timeoutMs?: number): Promise<void>;
}

export interface InstallTimes {
  /** Date.now() when the version was active. */
  activeAt: number;
  /** performance.now() ms from `downloading` to the next state (download, incremental sha256, commit); null if not seen. */
  downloadMs: number | null;
}

/** Resolves once `model@version` is active on `core`, with the download phase timed on the way (state changes are synchronous). */
export async function watchInstall(core: WatchedCore, model: string, version: string, timeoutMs: number): Promise<InstallTimes> {
  let downFrom: number | null = null;
  let downTo: number | null = null;
  await core.waitFor(() => {
    const s = core.slots()[model];
    const now = performance.now();
    if (s?.pending?.version === version) {
      if (s.state === 'downloading') downFrom ??= now;
      else if (downFrom !== null) downTo ??= now;
    }
    if (s?.active?.version !== version) return false;
    if (downFrom !== null) downTo ??= now;
    return true;
  }, timeoutMs);
  return { activeAt: Date.now(), downloadMs: downFrom !== null && downTo !== null ? downTo - downFrom : null };
}
