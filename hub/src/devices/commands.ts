// Signed commands to one device (design §3, §4): `rollback`, `flush-telemetry`, `resync`, `batch`, signed by the
// director key with their own strictly increasing per-device sequence, published non-retained, QoS 1.
// `telemetry-confirm` (telemetry-confirm.ts) shares the sequence but is routine, so it is not audited.

import { Command, EdgefleetError, LIMITS, topics } from '@edgefleet/protocol';
import type { HubContext } from '../context.js';

/** Commands are short-lived: a device that was offline should not act on a stale rollback. */
export const COMMAND_LIFETIME_MS = 10 * 60_000;

export interface CommandSender {
  send(deviceId: string, action: Exclude<Command['action'], 'telemetry-confirm'>, options?: { model?: string; reason?: string; path?: string; actor?: string }): Promise<Command>;
}

export function createCommandSender(ctx: HubContext): CommandSender {
  return {
    async send(deviceId, action, options = {}) {
      if (!(await ctx.store.getDevice(deviceId))) throw new EdgefleetError('NOT_FOUND', `device ${deviceId} not found`);
      const now = ctx.now();
      const command = await ctx.store.transaction(async (): Promise<Command> => {
        const c: Command = {
          kind: 'command',
          deviceId,
          sequence: await ctx.store.nextCommandSequence(deviceId),
          issuedAt: now.toISOString(),
          expiresAt: new Date(now.getTime() + COMMAND_LIFETIME_MS).toISOString(),
          action,
          ...(options.model ? { model: options.model } : {}),
          ...(options.reason ? { reason: options.reason.slice(0, 512) } : {}),
          ...(options.path ? { path: options.path } : {}),
        };
        const parsed = Command.safeParse(c);
        if (!parsed.success) throw new EdgefleetError('BAD_INPUT', `command ${action}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
        await ctx.store.appendAudit(options.actor ?? 'hub', 'command.send', { deviceId, action, sequence: c.sequence, model: options.model, ...(options.path ? { path: options.path } : {}) });
        return c;
      });
      await publishCommand(ctx, command);
      return command;
    },
  };
}

async function publishCommand(ctx: HubContext, command: Command): Promise<void> {
  const envelope = JSON.stringify(ctx.keys.directorSigner.signDocument('command', command));
  if (envelope.length > LIMITS.command) throw new EdgefleetError('TOO_LARGE', 'command over its size cap');
  await ctx.bus.publish(topics.command(command.deviceId), envelope, { qos: 1, retain: false });
}

/**
 * Confirm committed telemetry seqs to a device (design §4 telemetry `confirm`): the per-device command
 * sequence from the store like every command, but no audit record. A removed device gets nothing.
 */
export async function sendTelemetryConfirm(ctx: HubContext, id: string, ranges: Array<[number, number]>): Promise<Command | null> {
  if (ranges.length === 0 || !(await ctx.store.getDevice(id))) return null;
  const now = ctx.now();
  const command: Command = {
    kind: 'command',
    deviceId: id,
    sequence: await ctx.store.nextCommandSequence(id),
    issuedAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + COMMAND_LIFETIME_MS).toISOString(),
    action: 'telemetry-confirm',
    telemetrySeq: Math.max(...ranges.map(([, to]) => to)),
    telemetryRanges: ranges,
  };
  await publishCommand(ctx, command);
  return command;
}
