// A replica in its own process for the leader tests: runs an election and, while it leads, writes a row every
// 100 ms through the lock's session. Prints `leader`, `demoted <reason>`, and what became of a write it tried
// after demotion (`write-refused <why>` / `write-ok`). Usage: tsx leader-child.ts <url> <key> <replicaId>
import { createLeaderElection, type LeaderSession } from '../../src/replicas/index.js';

const [url, key, replicaId] = process.argv.slice(2);
if (!url || !key || !replicaId) throw new Error('usage: leader-child.ts <url> <key> <replicaId>');

const write = (s: LeaderSession) => s.sql.run('INSERT INTO leader_writes (replica) VALUES (@replica)', { replica: replicaId });

createLeaderElection({
  url,
  key: Number(key),
  replicaId,
  retryMs: 200,
  sessionTimeoutMs: 2000,
  onElected: (s) => {
    console.log(`leader ${s.backendPid}`);
    const timer = setInterval(() => {
      if (!s.isLeading()) return clearInterval(timer);
      write(s).catch((e: Error) => console.log(`write-failed ${e.message}`));
    }, 100);
    s.signal.addEventListener('abort', () => {
      clearInterval(timer);
      // the session it led with must refuse a write now
      write(s).then(
        () => console.log('write-ok'),
        (e: Error) => console.log(`write-refused ${e.message}`),
      );
    });
  },
  onDemoted: (reason) => console.log(`demoted ${reason}`),
});
