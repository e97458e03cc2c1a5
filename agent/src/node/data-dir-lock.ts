// One agent per data dir (design §5 "State"): the lock the SQLite store takes before it opens anything.

import fs from 'node:fs';
import path from 'node:path';
import { EdgefleetError } from '@edgefleet/protocol';

/** Out of space (tmpfs/ext4 ENOSPC, quota, SQLite's SQLITE_FULL) — a state to report and wait out, not a crash. */
export function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL' || code === 'DISK_FULL';
}

/**
 * One agent per data dir: a lock file holding the owner's pid. A lock left by a process that no longer
 * exists (kill -9, power loss) is taken over.
 */
const lockedHere = new Set<string>();

export function acquireLock(dataDir: string): () => void {
  const file = path.resolve(dataDir, 'agent.lock');
  if (lockedHere.has(file)) throw new EdgefleetError('CONFLICT', `data dir ${dataDir} is in use by another agent in this process`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx');
      try {
        fs.writeSync(fd, String(process.pid));
      } catch (err) {
        // a full disk must not keep the agent from serving the models it has (design §5 offline first):
        // the lock is held by the file's existence; an empty one is taken over like a stale one
        if (!isDiskFull(err)) throw err;
      } finally {
        fs.closeSync(fd);
      }
      lockedHere.add(file);
      return () => {
        lockedHere.delete(file);
        fs.rmSync(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(fs.readFileSync(file, 'utf8').trim());
      let alive = false;
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid) {
        try {
          process.kill(pid, 0);
          alive = true;
        } catch (e) {
          alive = (e as NodeJS.ErrnoException).code === 'EPERM';
        }
      }
      if (alive) throw new EdgefleetError('CONFLICT', `data dir ${dataDir} is in use by agent process ${pid}`);
      fs.rmSync(file, { force: true });
    }
  }
  throw new EdgefleetError('CONFLICT', `cannot lock data dir ${dataDir}`);
}
