// `edgefleet hub start` shuts down cleanly on SIGTERM: every acknowledged telemetry batch is committed.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createWindow, topics } from '@edgefleet/protocol';
import { apiClient, connectDevice, endClient, tempDir } from './helpers.js';

const BIN = fileURLToPath(new URL('../bin/edgefleet.js', import.meta.url));
const BUILT = existsSync(fileURLToPath(new URL('../dist/cli/main.js', import.meta.url)));
const CLI = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

describe('hub start', () => {
  let dir: ReturnType<typeof tempDir> | undefined;
  afterEach(() => dir?.remove());

  it('commits every acknowledged telemetry batch when stopped with SIGTERM', async () => {
    dir = tempDir();
    const data = join(dir.path, 'data');
    const args = ['hub', 'start', '--data', data, '--http', '127.0.0.1:0', '--mqtt', '127.0.0.1:0', '--ws', '127.0.0.1:0'];
    const child = spawn(process.execPath, BUILT ? [BIN, ...args] : ['--import', 'tsx', CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      const urls: Record<string, string> = {};
      for await (const line of createInterface({ input: child.stdout })) {
        const m = /^\s+(http|mqtt|ws)\s+(\S+)$/.exec(line);
        if (m) urls[m[1]!] = m[2]!;
        if (urls.http && urls.mqtt && urls.ws) break;
      }
      expect(stderr).toMatch(/root key/); // the first start warns that production keeps root offline
      const api = apiClient(urls.http!, readFileSync(join(data, 'admin-token'), 'utf8').trim());
      const token = (await api.post('/devices', { id: 'dev-s' })).body.token as string;
      const client = await connectDevice(urls.mqtt!, 'dev-s', token);
      const w = createWindow('tiny', '1.0.0', 'active', Date.now(), Date.now() + 60_000);
      w.inferences = 1;
      await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          client.publishAsync(topics.telemetry('dev-s'), JSON.stringify({ deviceId: 'dev-s', seq: i + 1, windows: [w], dropped: 0 }), { qos: 1 }),
        ),
      );
      child.kill('SIGTERM'); // right after the last PUBACK, before the ingest timer would flush
      expect(await exited).toBe(0);
      await endClient(client);
      const db = new Database(join(data, 'hub.db'), { readonly: true });
      try {
        expect(db.prepare('SELECT COUNT(*) AS n FROM telemetry_batches').get()).toEqual({ n: 100 });
      } finally {
        db.close();
      }
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
