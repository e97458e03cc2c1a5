// A hub in its own process for `hub.rss_per_device_kb` (design §11): registers N devices, prints their
// credentials and broker URL as one JSON line, then answers "rss" on stdin with its RSS after a GC.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startHub } from '@edgefleet/hub';

const n = Number(process.argv[2] ?? '1000');
const dir = mkdtempSync(join(tmpdir(), 'edgefleet-bench-rss-'));
const hub = await startHub({ dataDir: dir, http: '127.0.0.1:0', mqtt: '127.0.0.1:0', ws: null });
const devices: Array<{ id: string; token: string }> = [];
for (let i = 0; i < n; i++) {
  const id = `bench-${i}`;
  devices.push({ id, token: (await hub.services.devices.add(id, {}, 'bench')).token });
}
process.stdout.write(JSON.stringify({ mqtt: hub.urls.mqtt, devices }) + '\n');

const gc = (globalThis as { gc?: () => void }).gc;
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (line.trim() === 'rss') {
    gc?.();
    gc?.();
    process.stdout.write(JSON.stringify({ rss: process.memoryUsage().rss }) + '\n');
  } else if (line.trim() === 'exit') {
    rl.close();
    void hub.close().then(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    });
  }
});
