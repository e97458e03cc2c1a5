// Signed commands to one device (design §3, §4): `rollback`, `flush-telemetry`, `resync`, signed by the
// director key with their own strictly increasing per-device sequence, published non-retained, QoS 1.

import { EdgefleetError, LIMITS, topics, type Command } from '@edgefleet/protocol';
import type { HubContext } from './context.js';

/** Commands are short-lived: a device that was offline should not act on a stale rollback. */
export const COMMAND_LIFETIME_MS = 10 * 60_000;

export interface CommandSender {
  send(deviceId: string, action: Command['action'], options?: { model?: string; reason?: string; actor?: string }): Promise<Command>;
}

export function createCommandSender(ctx: HubContext): CommandSender {
  return {
    async send(deviceId, action, options = {}) {
      if (!ctx.store.getDevice(deviceId)) throw new EdgefleetError('NOT_FOUND', `device ${deviceId} not found`);
      const now = ctx.now();
      const command = ctx.store.transaction((): Command => {
        const c: Command = {
          kind: 'command',
          deviceId,
          sequence: ctx.store.nextCommandSequence(deviceId),
          issuedAt: now.toISOString(),
          expiresAt: new Date(now.getTime() + COMMAND_LIFETIME_MS).toISOString(),
          action,
          ...(options.model ? { model: options.model } : {}),
          ...(options.reason ? { reason: options.reason.slice(0, 512) } : {}),
        };
        ctx.store.appendAudit(options.actor ?? 'hub', 'command.send', { deviceId, action, sequence: c.sequence, model: options.model });
        return c;
      });
      const envelope = JSON.stringify(ctx.keys.directorSigner.signDocument('command', command));
      if (envelope.length > LIMITS.command) throw new EdgefleetError('TOO_LARGE', 'command over its size cap');
      await ctx.bus.publish(topics.command(deviceId), envelope, { qos: 1, retain: false });
      return command;
    },
  };
}
