// Hostile device payloads: a registered device (valid credentials, its own topics only, so the ACL lets
// every one through) publishes malformed, oversized and adversarial messages. After each the hub must
// still be up and answer `fleet status` and the version's health (which merge stored telemetry), without
// a restart (design §4: a bad message is dropped and counted, never crashes a process).

import { join } from 'node:path';
import mqtt from 'mqtt';
import { createWindow, LIMITS, topics } from '@edgefleet/protocol';
import type { ChaosContext } from '../campaign.js';
import { excerpt, sleep } from '../procs.js';
import type { PublisherDevice } from '../telemetry.js';
import { createWorld, MODEL, type World } from '../world.js';
import { PAYLOADS, type Message } from './hostile-payloads.js';

/** Publishes `messages` as `device` on a connection of its own (the hub may close it: that is allowed). */
export async function publishAs(url: string, device: PublisherDevice, messages: Message[]): Promise<void> {
  const c = mqtt.connect(url, { clientId: device.id, username: device.id, password: device.token, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000 });
  c.on('error', () => undefined);
  const closed = new Promise<void>((r) => c.once('close', () => r()));
  try {
    await new Promise<void>((resolve, reject) => {
      c.once('connect', () => resolve());
      c.once('close', () => reject(new Error('refused')));
    });
    for (let i = 0; i < messages.length; i += 100) {
      const slice = messages.slice(i, i + 100).map(
        (m) => new Promise<void>((r) => c.publish(m.topic, m.body, { qos: 1, retain: m.retain ?? false }, () => r())),
      );
      // a message the hub refuses by closing the connection is never acknowledged
      await Promise.race([Promise.all(slice), closed, sleep(5000)]);
      if (!c.connected) break;
    }
  } catch {
    // refused or closed: the payload was delivered as far as the hub let it
  } finally {
    await new Promise<void>((r) => c.end(true, {}, () => r()));
  }
}

async function hubUp(world: World, version: string): Promise<string | null> {
  await sleep(300); // let it ingest (the embedded broker's flush is 20 ms; a merge of doom takes longer)
  if (!world.hub.alive()) return 'the hub process died';
  if (!(await world.hub.serving(15_000))) return world.hub.alive() ? 'the hub stopped answering fleet status' : 'the hub process died';
  const health = await Promise.race([world.api.health(MODEL, version).then(() => 'ok', (e: Error) => e.message), sleep(15_000).then(() => 'timed out')]);
  if (health !== 'ok') return `health of ${MODEL}@${version} failed: ${health}`;
  return null;
}

async function hostileWorld(ctx: ChaosContext, n: number): Promise<{ world: World; evil: PublisherDevice; version: string }> {
  const world = await createWorld(ctx, `hostile-${n}`);
  const v = await world.pushVersion(MODEL, 16 * 1024);
  const evil = await world.addDevice(`evil-${n}`);
  return { world, evil, version: v.version };
}

export async function hostileDevice(ctx: ChaosContext): Promise<void> {
  const row = ctx.row('hostile-device');
  let n = 1;
  let w = await hostileWorld(ctx, n);
  try {
    for (const p of PAYLOADS.slice(0, ctx.plan.faults['hostile-device'])) {
      if (ctx.timeLeft() < 15_000) {
        ctx.note('hostile-device', `out of time before payload ${p.name}`);
        break;
      }
      const messages = p.messages(w.evil.id, { model: MODEL, version: w.version, now: Date.now(), window: createWindow, topics, limits: LIMITS });
      for (const [k, step] of messages.entries()) {
        if (k > 0) await sleep(500);
        await publishAs(w.world.hub.mqtt, w.evil, step);
      }
      row.injected++;
      const down = await hubUp(w.world, w.version);
      if (down === null) {
        ctx.log(`hostile-device ${p.name}: hub stayed up`);
        const finding = p.finding ? await p.finding({ api: w.world.api, deviceId: w.evil.id, dbFile: join(w.world.hub.dataDir, 'hub.db') }).catch(() => null) : null;
        if (finding) ctx.note('hostile-device', `${p.name} (hub stayed up): ${finding}`);
        continue;
      }
      // it went down: one restart was needed; a second that does not serve means the payload is stored
      row.hubRestartsNeeded++;
      ctx.note('hostile-device', `${p.name} took the hub down (${down}): ${excerpt(w.world.hub.output())}`);
      await w.world.hub.kill9();
      if (await w.world.restartHub('hostile-device', `payload ${p.name}`, 2)) continue;
      ctx.note('hostile-device', `after ${p.name} the hub no longer starts serving: a fresh hub takes the remaining payloads`);
      await w.world.close();
      w = await hostileWorld(ctx, ++n);
    }
  } finally {
    await w.world.close();
  }
}
