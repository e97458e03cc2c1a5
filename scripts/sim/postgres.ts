// A throwaway PostgreSQL server for tests and benchmarks: initdb into a temp dir, listen on 127.0.0.1 at a
// free port (its unix socket in that dir), durability off (fsync, synchronous_commit, full_page_writes: the
// data is thrown away), one database created. `stop()` kills it and removes the dir; a watchdog process does
// the same if the process that started it dies without stopping it (a crashed or killed test worker).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './broker-load.js';

export interface PostgresServer {
  /** postgres://… of the database created at start (`edgefleet`). */
  readonly url: string;
  readonly port: number;
  /** The postmaster's pid (its backends are its children: what /proc accounting sums). */
  readonly pid: number;
  /** Creates another empty database on this server; resolves to its URL. */
  createDatabase(name?: string): Promise<string>;
  stop(): Promise<void>;
}

const SETTINGS = [
  'fsync = off',
  'synchronous_commit = off',
  'full_page_writes = off',
  'max_connections = 200',
  'shared_buffers = 32MB',
  "log_min_messages = 'warning'",
];

/** The newest /usr/lib/postgresql/<version>/bin holding initdb (Debian's layout), or EDGEFLEET_PG_BIN. */
export function postgresBinDir(): string {
  const fromEnv = process.env.EDGEFLEET_PG_BIN;
  if (fromEnv) return fromEnv;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (!versions[0]) throw new Error('PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin (scripts/install-system-deps.sh installs them)');
  return join(root, versions[0], 'bin');
}

/** initdb refuses to run as root: as root, the server runs as the `postgres` user the Debian package creates. */
function serverUser(): { uid: number; gid: number; prefix: string[] } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('running as root but there is no postgres user to run the server as');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid), prefix: ['runuser', '-u', 'postgres', '--'] };
}

let counter = 0;

export async function startPostgres(): Promise<PostgresServer> {
  const bin = postgresBinDir();
  const user = serverUser();
  const dir = mkdtempSync(join(tmpdir(), 'edgefleet-pg-'));
  const data = join(dir, 'data');
  if (user) chownSync(dir, user.uid, user.gid);
  const as = (cmd: string, args: string[]) => (user ? { cmd: user.prefix[0]!, args: [...user.prefix.slice(1), join(bin, cmd), ...args] } : { cmd: join(bin, cmd), args });
  const run = (cmd: string, args: string[]) => {
    const c = as(cmd, args);
    const r = spawnSync(c.cmd, c.args, { encoding: 'utf8', cwd: dir });
    if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${r.stderr || r.stdout}`);
  };
  let watchdog: number | undefined;
  const cleanUp = () => {
    const c = as('pg_ctl', ['stop', '-D', data, '-m', 'immediate', '-w']);
    if (existsSync(join(data, 'postmaster.pid'))) spawnSync(c.cmd, c.args, { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    run('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-locale', '--no-sync', '--no-instructions']);
    let port = 0;
    // a free port can be taken between probing and binding: try a few
    for (let attempt = 0; ; attempt++) {
      port = await freePort();
      appendFileSync(join(data, 'postgresql.conf'), [...SETTINGS, "listen_addresses = '127.0.0.1'", `port = ${port}`, `unix_socket_directories = '${dir}'`, ''].join('\n'));
      try {
        run('pg_ctl', ['start', '-w', '-t', '30', '-D', data, '-l', join(dir, 'server.log')]);
        break;
      } catch (e) {
        if (attempt >= 2) throw new Error(`${(e as Error).message}\n${readLog(dir)}`);
      }
    }
    watchdog = startWatchdog(as('pg_ctl', ['stop', '-D', data, '-m', 'immediate']), dir);
    const admin = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const createDatabase = async (name = `db_${process.pid}_${++counter}`): Promise<string> => {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
      const client = new pg.Client({ connectionString: admin });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name} STRATEGY = FILE_COPY`);
      } finally {
        await client.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    };
    const url = await createDatabase('edgefleet');
    let stopped = false;
    const onExit = () => {
      if (!stopped) cleanUp();
    };
    process.once('exit', onExit);
    return {
      url,
      port,
      pid: Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]),
      createDatabase,
      async stop() {
        if (stopped) return;
        stopped = true;
        process.removeListener('exit', onExit);
        cleanUp();
        if (watchdog) killQuietly(watchdog);
      },
    };
  } catch (e) {
    if (watchdog) killQuietly(watchdog);
    cleanUp();
    throw e;
  }
}

function readLog(dir: string): string {
  try {
    return readFileSync(join(dir, 'server.log'), 'utf8').slice(-2000);
  } catch {
    return '';
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // already gone
  }
}

/**
 * A detached shell that outlives this process: once this process is gone (even by SIGKILL, when no exit hook
 * runs) it stops the server and removes its dir. Killed by `stop()`.
 */
function startWatchdog(stop: { cmd: string; args: string[] }, dir: string): number | undefined {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ${[stop.cmd, ...stop.args].map(quote).join(' ')} >/dev/null 2>&1; rm -rf ${quote(dir)}`;
  const child = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  child.unref();
  return child.pid;
}

/** The server's version (`postgres --version`), for bench reports. */
export function postgresVersion(): string {
  return execFileSync(join(postgresBinDir(), 'postgres'), ['--version'], { encoding: 'utf8' }).trim();
}
