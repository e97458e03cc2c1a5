// Credentials for an external Mosquitto broker (`--broker` mode, design §4 "the same rules as that
// broker's ACL"): a password file in mosquitto 2's `$7$` PBKDF2-SHA512 format, rewritten atomically on
// every device change, and reloaded by sending mosquitto SIGHUP — by the hub when it is given mosquitto's
// pid_file, otherwise by the operator. On reload mosquitto re-checks every connected client, so a removed
// device's live connection is closed then.
// Several replicas on one broker (design §8) share the one file Mosquitto reads: each replica writes the
// device lines and its own hub user, and keeps every other line whose user cannot be a device id (another
// replica's hub user, `edgefleet_hub_<id>`), under a lock file, so no replica drops another's user.

import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { DeviceId } from '@edgefleet/protocol';

const ITERATIONS = 101; // what mosquitto_passwd 2.0 writes
const SETTLE_MS = 1000;

/** `$7$<iterations>$<salt b64>$<hash b64>` for one password, as `mosquitto_passwd` makes it. */
export function mosquittoPasswordHash(password: string, salt: Buffer = randomBytes(12)): string {
  const hash = pbkdf2Sync(password, salt, ITERATIONS, 64, 'sha512');
  return `$7$${ITERATIONS}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export function writeMosquittoPasswordFile(file: string, entries: Array<{ user: string; hash: string }>): void {
  const body = entries.map((e) => `${e.user}:${e.hash}\n`).join('');
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, body, { mode: 0o600 });
  renameSync(tmp, file);
}

/**
 * The lines of `body` that belong to other hub users: a user that is not a valid device id (design §4
 * device ids have no `_`) and is not `ownUser`. A device's line is always rewritten from the registry.
 */
export function otherHubUsers(body: string, ownUser: string | null): Array<{ user: string; hash: string }> {
  const kept: Array<{ user: string; hash: string }> = [];
  for (const line of body.split('\n')) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const user = line.slice(0, i);
    if (user === ownUser || DeviceId.safeParse(user).success) continue;
    kept.push({ user, hash: line.slice(i + 1) });
  }
  return kept;
}

// The hub's part of Mosquitto's acl_file (design §4 multicast): per device, `read` on the multicast topic of
// each artifact its current desired state names. Everything outside these markers is the operator's (the
// shipped rules of hub/mosquitto/acl, hub users) and is kept as it is.
export const ACL_BEGIN = '# edgefleet: artifact multicast, written by the hub (design §4); do not edit from here';
export const ACL_END = '# edgefleet: end of artifact multicast';

/** `body` with its hub-written section replaced by `grants` (appended when it has none). */
export function withMulticastGrants(body: string, grants: ReadonlyArray<{ user: string; topics: readonly string[] }>): string {
  const section = [ACL_BEGIN, ...grants.filter((g) => g.topics.length > 0).flatMap((g) => [`user ${g.user}`, ...g.topics.map((t) => `topic read ${t}`)]), ACL_END].join('\n');
  const b = body.indexOf(ACL_BEGIN);
  const e = body.indexOf(ACL_END);
  if (b >= 0 && e > b) return body.slice(0, b) + section + body.slice(e + ACL_END.length);
  // a `user` line opens a block that lasts to the next one: the section goes last
  return `${body.replace(/\n*$/, '\n')}\n${section}\n`;
}

const LOCK_STALE_MS = 10_000;
const LOCK_WAIT_MS = 2_000;

/** Runs `f` holding `<file>.lock` (O_EXCL), so two replicas' read-modify-write of one file cannot interleave. */
async function withFileLock<T>(file: string, f: () => Promise<T>): Promise<T> {
  const lock = `${file}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      closeSync(openSync(lock, 'wx', 0o600));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let stale = false;
      try {
        stale = Date.now() - statSync(lock).mtimeMs > LOCK_STALE_MS; // its holder died mid-write
      } catch {
        continue; // released meanwhile
      }
      if (stale || Date.now() > deadline) {
        try {
          unlinkSync(lock);
        } catch {
          // another replica took it over first
        }
        continue;
      }
      await new Promise((r) => setTimeout(r, 5)); // a short pause
    }
  }
  try {
    return await f();
  } finally {
    try {
      unlinkSync(lock);
    } catch {
      // taken over as stale
    }
  }
}

/**
 * SIGHUP to the mosquitto whose `pid_file` this is. Throws with the reason (unreadable file, not a pid, no
 * such process, not permitted); the caller reports it and the credentials wait for the next reload.
 */
export function reloadMosquitto(pidFile: string): void {
  const text = readFileSync(pidFile, 'utf8').trim();
  const pid = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(pid) || pid <= 1) throw new Error(`${pidFile} does not hold a process id (${JSON.stringify(text.slice(0, 20))})`);
  process.kill(pid, 'SIGHUP');
}

export interface MosquittoSyncOptions {
  passwordFile: string;
  /** Mosquitto's pid_file: SIGHUP after each rewrite so the change applies at once. */
  pidFile?: string;
  /** `--broker` URL: its user (this replica) is written first, with the URL's password. */
  brokerUrl?: string;
  /** Mosquitto's acl_file: the hub rewrites its multicast section (`withMulticastGrants`) with the password file. */
  aclFile?: string;
  /** Per device, the multicast topics it may read (those of the artifacts its desired state names). */
  grants?: () => Promise<Array<{ user: string; topics: string[] }>>;
  /** The devices' broker credentials, from the store. */
  entries: () => Promise<Array<{ user: string; hash: string }>>;
  onReload: (outcome: 'ok' | 'failed') => void;
  log: (line: string) => void;
}

/** The hub's Mosquitto files (`--mosquitto-*-file`, `--broker`), as `hub start` takes them. */
export interface MosquittoFiles {
  mosquittoPasswordFile?: string;
  mosquittoPidFile?: string;
  mosquittoAclFile?: string;
  broker?: string;
}

/** `createMosquittoSync` for the files a hub was given; a no-op without a password file (embedded broker). */
export function mosquittoSyncFor(files: MosquittoFiles, from: Pick<MosquittoSyncOptions, 'entries' | 'onReload' | 'log'> & Required<Pick<MosquittoSyncOptions, 'grants'>>): () => Promise<void> {
  if (!files.mosquittoPasswordFile) return async () => undefined;
  return createMosquittoSync({
    passwordFile: files.mosquittoPasswordFile,
    ...(files.mosquittoPidFile ? { pidFile: files.mosquittoPidFile } : {}),
    ...(files.broker ? { brokerUrl: files.broker } : {}),
    ...(files.mosquittoAclFile ? { aclFile: files.mosquittoAclFile, grants: from.grants } : {}),
    entries: from.entries,
    onReload: from.onReload,
    log: from.log,
  });
}

/** Rewrites Mosquitto's password file from the registry (and reloads the broker when its pid file is known). */
export function createMosquittoSync(o: MosquittoSyncOptions): () => Promise<void> {
  const u = o.brokerUrl ? new URL(o.brokerUrl) : null;
  const ownUser = u?.username ? decodeURIComponent(u.username) : null;
  // one hash per process: the line stays the same across rewrites
  const ownHash = u && ownUser ? mosquittoPasswordHash(decodeURIComponent(u.password)) : null;
  if (ownUser && DeviceId.safeParse(ownUser).success) {
    o.log(`broker user ${JSON.stringify(ownUser)} could be a device id: other replicas rewrite its line as a device's; name hub users edgefleet_hub_<replica id>`);
  }
  let settle: ReturnType<typeof setTimeout> | undefined;
  // one rewrite at a time; calls during one share the next (a wave's desired states cost a few rewrites, not one each)
  let running: Promise<void> | null = null;
  let queued: Promise<void> | null = null;
  const coalesced = (): Promise<void> => {
    if (!running) {
      running = sync().finally(() => (running = null));
      return running;
    }
    queued ??= running.catch(() => undefined).then(() => {
      queued = null;
      return coalesced();
    });
    return queued;
  };
  return coalesced;
  async function sync(): Promise<void> {
    // the lock is held across the read of the registry: a replica that read an older registry cannot write after one that read a newer
    await withFileLock(o.passwordFile, async () => {
      let current = '';
      try {
        current = readFileSync(o.passwordFile, 'utf8');
      } catch {
        // first write
      }
      const entries = [...(ownUser && ownHash ? [{ user: ownUser, hash: ownHash }] : []), ...otherHubUsers(current, ownUser), ...(await o.entries())];
      writeMosquittoPasswordFile(o.passwordFile, entries);
      if (o.aclFile && o.grants) {
        const body = withMulticastGrants(readFileSync(o.aclFile, 'utf8'), await o.grants());
        const tmp = `${o.aclFile}.tmp-${process.pid}`;
        writeFileSync(tmp, body, { mode: 0o600 });
        renameSync(tmp, o.aclFile);
      }
    });
    if (!o.pidFile) return;
    const pidFile = o.pidFile;
    try {
      reloadMosquitto(pidFile);
      o.onReload('ok');
      // mosquitto clears its reload flag when a reload ends, so a SIGHUP that lands during one is lost and
      // the last change waits for the next: one more reload, once the changes have settled, applies it
      clearTimeout(settle);
      settle = setTimeout(() => {
        try {
          reloadMosquitto(pidFile);
        } catch {
          // the broker is gone (or restarting): it reads the file when it starts
        }
      }, SETTLE_MS);
      settle.unref();
    } catch (err) {
      // the device change stands (it is in the registry and the file); the broker applies it on its next reload
      o.onReload('failed');
      o.log(`mosquitto reload failed, credentials apply on its next reload: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
