// The replicas' leader election (replicas/leader.ts) on a real PostgreSQL server and real processes: one leader
// at a time, a killed leader replaced, a frozen leader fenced by the server and told so when it resumes.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '../../scripts/sim/postgres.js';
import { createLeaderElection, type LeaderElection, type LeaderSession } from '../src/replicas/index.js';
import { openLockSession, openPostgres, type SqlDatabase } from '../src/store/index.js';

const CHILD = fileURLToPath(new URL('./support/leader-child.ts', import.meta.url));
const KEY = 0x6564_6765_0002;

let server: PostgresServer;
let url: string;
let db: SqlDatabase;
const children: ChildProcess[] = [];
const elections: LeaderElection[] = [];

beforeAll(async () => {
  server = await startPostgres();
  url = await server.createDatabase();
  db = await openPostgres(url, { migrate: false });
  await db.run('CREATE TABLE leader_writes (id BIGSERIAL PRIMARY KEY, replica TEXT NOT NULL)');
}, 60_000);
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null && c.pid) {
      process.kill(c.pid, 'SIGCONT');
      process.kill(c.pid, 'SIGKILL');
    }
  }
  await Promise.all(elections.splice(0).map((e) => e.close()));
});
afterAll(async () => {
  await db?.close();
  await server?.stop();
});

interface Elected {
  election: LeaderElection;
  elected: Promise<LeaderSession>;
  demoted: string[];
}

function elect(replicaId: string, extra: { retryMs?: number; sessionTimeoutMs?: number } = {}): Elected {
  const demoted: string[] = [];
  let resolve!: (s: LeaderSession) => void;
  const elected = new Promise<LeaderSession>((r) => (resolve = r));
  const election = createLeaderElection({ url, key: KEY, replicaId, retryMs: 50, onElected: resolve, onDemoted: (r) => demoted.push(r), ...extra });
  elections.push(election);
  return { election, elected, demoted };
}

/** A replica in a child process; `lines` collects what it prints, `waitFor` resolves at the first match. */
function child(replicaId: string) {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, url, String(KEY), replicaId], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(proc);
  const lines: string[] = [];
  const waiters: Array<{ re: RegExp; ok: (l: string) => void }> = [];
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      lines.push(line);
      for (const w of waiters.splice(0)) (w.re.test(line) ? w.ok(line) : waiters.push(w));
    }
  });
  const waitFor = (re: RegExp) =>
    new Promise<string>((ok, fail) => {
      const seen = lines.find((l) => re.test(l));
      if (seen) return ok(seen);
      waiters.push({ re, ok });
      proc.once('exit', (code, sig) => fail(new Error(`child exited (${code ?? sig}) before printing ${re}; printed: ${lines.join(' | ')}`)));
    });
  return { proc, lines, waitFor };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('lock session', () => {
  it('runs with the fencing settings, and the server ends it (freeing its lock) once it falls silent', async () => {
    const lost: Error[] = [];
    const a = await openLockSession(url, { sessionTimeoutMs: 1000, onLost: (e) => lost.push(e) });
    const other = await openLockSession(url, { sessionTimeoutMs: 5000, onLost: () => {} });
    try {
      expect(await a.sql.get('SHOW idle_session_timeout')).toEqual({ idle_session_timeout: '1s' });
      expect(await a.sql.get('SHOW statement_timeout')).toEqual({ statement_timeout: '1s' });
      expect(await a.sql.get('SHOW tcp_keepalives_idle')).toEqual({ tcp_keepalives_idle: '2' });
      expect(await a.tryLock(KEY + 1)).toBe(true);
      expect(await other.tryLock(KEY + 1)).toBe(false);
      await sleep(1500); // no heartbeat: no client-side lease is involved at this level
      expect(lost).toHaveLength(1);
      await expect(a.sql.run("INSERT INTO leader_writes (replica) VALUES ('silent')")).rejects.toThrow(/ended/);
      expect(await other.tryLock(KEY + 1)).toBe(true);
      expect(await db.get("SELECT COUNT(*) AS n FROM leader_writes WHERE replica = 'silent'")).toEqual({ n: 0 });
    } finally {
      await a.close();
      await other.close();
    }
  });
});

describe('leader election', () => {
  it('refuses a session timeout that does not leave room for two heartbeats', () => {
    expect(() => createLeaderElection({ url, key: KEY, replicaId: 'x', retryMs: 1000, sessionTimeoutMs: 2000, onElected: () => {}, onDemoted: () => {} })).toThrow(
      expect.objectContaining({ code: 'BAD_INPUT' }),
    );
  });


  it('lets exactly one of two replicas lead, and the other once the first closes', async () => {
    const a = elect('a');
    const first = await a.elected;
    const b = elect('b');
    let bLed = false;
    void b.elected.then(() => (bLed = true));
    await sleep(500); // ten of b's tries
    expect(a.election.isLeading()).toBe(true);
    expect(first.isLeading()).toBe(true);
    expect(bLed).toBe(false);
    expect(b.election.isLeading()).toBe(false);
    await first.sql.run("INSERT INTO leader_writes (replica) VALUES ('a')");

    await a.election.close();
    const second = await b.elected;
    expect(second.replicaId).toBe('b');
    expect(b.election.isLeading()).toBe(true);
    // the closed leader's session is gone with its lock: its writes are refused
    expect(first.isLeading()).toBe(false);
    await expect(first.sql.run("INSERT INTO leader_writes (replica) VALUES ('a-late')")).rejects.toThrow(/not the leader/);
    expect(await db.get("SELECT COUNT(*) AS n FROM leader_writes WHERE replica = 'a-late'")).toEqual({ n: 0 });
  });

  it('hands the lead to another replica when the leader is killed with SIGKILL', async () => {
    const c = child('killed');
    await c.waitFor(/^leader /);
    const b = elect('survivor');
    await sleep(300);
    expect(b.election.isLeading()).toBe(false);
    const killedAt = performance.now();
    process.kill(c.proc.pid!, 'SIGKILL');
    const s = await b.elected;
    const takeoverMs = performance.now() - killedAt;
    console.log(`leader takeover after SIGKILL: ${takeoverMs.toFixed(0)} ms (retryMs 50)`);
    expect(s.isLeading()).toBe(true);
    await s.sql.run("INSERT INTO leader_writes (replica) VALUES ('survivor')");
  }, 30_000);

  it('fences a frozen leader: the server ends its session, another leads, and the resumed one learns it was demoted', async () => {
    const c = child('frozen');
    const pid = Number((await c.waitFor(/^leader /)).split(' ')[1]);
    const b = elect('thawed-out', { sessionTimeoutMs: 2000 });
    await sleep(300);
    expect(b.election.isLeading()).toBe(false);
    const frozenAt = performance.now();
    process.kill(c.proc.pid!, 'SIGSTOP');
    const s = await b.elected;
    const takeoverMs = performance.now() - frozenAt;
    console.log(`leader takeover after SIGSTOP: ${takeoverMs.toFixed(0)} ms (child's idle_session_timeout 2000 ms)`);
    // the server, not the frozen client, ended the old session
    expect(await db.get('SELECT COUNT(*) AS n FROM pg_stat_activity WHERE pid = @pid', { pid })).toEqual({ n: 0 });
    const marker = await s.sql.get<{ id: number }>("INSERT INTO leader_writes (replica) VALUES ('takeover') RETURNING id");

    process.kill(c.proc.pid!, 'SIGCONT');
    await c.waitFor(/^demoted /);
    await c.waitFor(/^write-refused /);
    await sleep(1000); // time for a leader that did not stop to write again
    expect(c.lines).not.toContain('write-ok');
    expect(c.lines.filter((l) => l.startsWith('leader'))).toHaveLength(1);
    expect(await db.get("SELECT COUNT(*) AS n FROM leader_writes WHERE replica = 'frozen' AND id > @id", { id: marker!.id })).toEqual({ n: 0 });
    expect(s.isLeading()).toBe(true);
  }, 30_000);
});
