// A download that resumes as the agent connects: between the CONNACK and the artifact/data SUBACK the broker
// drops the hub's frames, so a request sent then is answered into the void and fetched again after the
// nudge (seen in the browser: a reopened tab fetched its first window twice). Requests wait for the agent.
import { describe, expect, it } from 'vitest';
import { createSha256, encodeChunkFrame, topics } from '@edgefleet/protocol';
import { createDownloader } from './downloader.js';
import { createMemoryStore } from './memory-store.js';
import { systemClock, type Transport } from './ports.js';

describe('chunk requests wait for the artifact/data subscription', () => {
  it('asks for every chunk once when the download starts between CONNACK and SUBACK', async () => {
    const CHUNK = 1024;
    const bytes = Uint8Array.from({ length: 4 * CHUNK }, (_, i) => (i * 7) & 255);
    const h = createSha256();
    h.update(bytes);
    const sha256 = h.digestHex();
    let subscribed = false; // the broker routes artifact/data to the device only once this is true
    const asked: number[] = [];
    const transport: Transport = {
      connected: true,
      connect() {},
      async close() {},
      async publish(topic, payload) {
        if (topic !== topics.artifactGet('dev')) return;
        const { chunks } = JSON.parse(String(payload)) as { chunks: number[] };
        asked.push(...chunks);
        const frames = chunks.map((i) => encodeChunkFrame(sha256, i, bytes.subarray(i * CHUNK, (i + 1) * CHUNK)));
        setTimeout(() => frames.forEach((f) => subscribed && downloader.handleFrame(f)), 1);
      },
      async subscribe(list) {
        return list.map((topic) => ({ topic, ok: false, reason: 'no multicast here' }));
      },
      onMessage() {},
      onConnect() {},
      onDisconnect() {},
    };
    const downloader = createDownloader({ deviceId: 'dev', transport, store: createMemoryStore(), clock: systemClock, canRequest: () => subscribed, timeoutMs: 200 });
    const done = downloader.fetchArtifact({ sha256, size: bytes.length, chunkSize: CHUNK }, { cancelled: false });
    await new Promise((r) => setTimeout(r, 30));
    subscribed = true; // the SUBACK: the agent nudges its downloads
    downloader.nudge();
    expect(await done).toBe(true);
    expect(asked.sort((a, b) => a - b)).toEqual([0, 1, 2, 3]);
  });
});
