// Inbound messages (design §4): chunk frames to the downloader, the keyring, desired states and commands
// through trust.ts into the core's queue, one at a time; and what a (re)connect sets up again.

import { parseTopic, topics } from '@edgefleet/protocol';
import type { AgentContext } from './context.js';
import type { Reporter } from './reporter.js';
import type { Trust } from './trust.js';
import type { Updater } from './updater/index.js';

export interface InboundOptions {
  trust: Trust;
  updater: Updater;
  reporter: Reporter;
  /** Command `flush-telemetry`. */
  flushTelemetry: () => Promise<void>;
  /** Command `batch`: started, not awaited (it reports its result as an event). */
  batch: (model: string, path: string) => void;
}

export interface Inbound {
  onMessage(topic: string, payload: Uint8Array): void;
  /** Check and apply a desired state (also one that waited for the keyring). */
  onDesired(raw: Uint8Array): Promise<void>;
  /** Presence, subscriptions, and everything that waited for the broker. */
  onConnected(): Promise<void>;
}

export function createInbound(ctx: AgentContext, options: InboundOptions): Inbound {
  const { deviceId, transport, clock, log, state } = ctx;
  const { trust, updater, reporter, flushTelemetry, batch } = options;

  async function onDesired(raw: Uint8Array): Promise<void> {
    const desired = trust.checkDesired(raw);
    if (desired) await updater.applyDesired(desired);
  }

  async function onCommand(raw: Uint8Array): Promise<void> {
    const cmd = await trust.checkCommand(raw);
    if (!cmd) return;
    if (cmd.action === 'telemetry-confirm') {
      // routine (about once a second while telemetry flows): counted, not logged
      ctx.count('telemetryConfirms');
      await reporter.confirmTelemetry(cmd.telemetryRanges ?? []);
      return;
    }
    log(`command ${cmd.action}${cmd.model ? ` ${cmd.model}` : ''}`);
    if (cmd.action === 'rollback') {
      const names = cmd.model ? [cmd.model] : Object.keys(state.slots);
      for (const name of names) await updater.rollback(name, null, cmd.reason ?? 'rollback command');
    } else if (cmd.action === 'flush-telemetry') {
      void flushTelemetry();
    } else if (cmd.action === 'batch') {
      batch(cmd.model!, cmd.path!); // the schema requires both for `batch`
    } else {
      void onConnected();
    }
  }

  function onMessage(topic: string, payload: Uint8Array): void {
    if (!state.running) return;
    // design §4: chunk frames come unicast or on an artifact's multicast topic; the frame names its artifact
    if (topic === topics.artifactData(deviceId) || parseTopic(topic)?.kind === 'artifact-multicast') {
      updater.downloader.handleFrame(payload);
      return;
    }
    // an empty retained message is the broker's way of clearing a topic (the hub removed this device): nothing to apply
    if (payload.length === 0) {
      ctx.count('emptyMessages');
      return;
    }
    const failed = (err: unknown): void => log(`${topic} not applied: ${String(err)}`);
    if (topic === topics.keyring()) ctx.enqueue(() => trust.onKeyring(payload)).catch(failed);
    else if (topic === topics.desired(deviceId)) ctx.enqueue(() => onDesired(payload)).catch(failed);
    else if (topic === topics.command(deviceId)) ctx.enqueue(() => onCommand(payload)).catch(failed);
    else ctx.count('unexpectedTopic');
  }

  async function onConnected(): Promise<void> {
    if (!state.running) return;
    state.connectedAt = clock.now();
    try {
      await transport.publish(topics.status(deviceId), 'online', { qos: 1, retain: true });
      const subs = await transport.subscribe([topics.keyring(), topics.desired(deviceId), topics.command(deviceId), topics.artifactData(deviceId)]);
      for (const s of subs) if (!s.ok) ctx.emit('error', `subscription to ${s.topic} refused${s.reason ? `: ${s.reason}` : ''}`, { code: 'FORBIDDEN' });
    } catch (err) {
      log(`connect setup failed: ${String(err)}`);
    }
    state.subscribed = true;
    await reporter.publishReported();
    updater.downloader.nudge();
    void reporter.flushEvents();
    void reporter.flushOutbox();
    updater.kick();
  }

  return { onMessage, onDesired, onConnected };
}
