// Credentials for an external Mosquitto broker (`--broker` mode, design §4 "the same rules as that
// broker's ACL"): a password file in mosquitto 2's `$7$` PBKDF2-SHA512 format, rewritten atomically on
// every device change, and reloaded by sending mosquitto SIGHUP — by the hub when it is given mosquitto's
// pid_file, otherwise by the operator. On reload mosquitto re-checks every connected client, so a removed
// device's live connection is closed then.

import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

const ITERATIONS = 101; // what mosquitto_passwd 2.0 writes

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
  /** `--broker` URL: its user (the hub itself) is written first, with the URL's password. */
  brokerUrl?: string;
  /** The devices' broker credentials, from the store. */
  entries: () => Array<{ user: string; hash: string }>;
  onReload: (outcome: 'ok' | 'failed') => void;
  log: (line: string) => void;
}

/** Rewrites Mosquitto's password file from the registry (and reloads the broker when its pid file is known). */
export function createMosquittoSync(o: MosquittoSyncOptions): () => void {
  return () => {
    const entries = o.entries();
    if (o.brokerUrl) {
      const u = new URL(o.brokerUrl);
      if (u.username) entries.unshift({ user: decodeURIComponent(u.username), hash: mosquittoPasswordHash(decodeURIComponent(u.password)) });
    }
    writeMosquittoPasswordFile(o.passwordFile, entries);
    if (!o.pidFile) return;
    try {
      reloadMosquitto(o.pidFile);
      o.onReload('ok');
    } catch (err) {
      // the device change stands (it is in the registry and the file); the broker applies it on its next reload
      o.onReload('failed');
      o.log(`mosquitto reload failed, credentials apply on its next reload: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
}
