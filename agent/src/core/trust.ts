// What the agent accepts (design §3): the keyring chained to the pinned root, desired states and commands
// signed by keys of that keyring with rising sequences. A refusal changes nothing that runs; it is reported
// (the code on every slot and in the reported state) and emitted as an event.

import { verifyCommand, verifyDesiredState, verifyKeyring, type Command, type ErrorCode } from '@edgefleet/protocol';
import { clip, type AgentContext, type StoredDesired, type StoredKeyring } from './context.js';
import { refused, settingsOf, type WantedModel } from './update-plan.js';

export interface TrustOptions {
  /** Pinned root public key (design §3). */
  rootPublicKey: Uint8Array;
  scheduleReport: () => void;
  /** A desired state that waited for the keyring: check and apply it now. */
  onPendingDesired: (raw: Uint8Array) => Promise<void>;
}

export interface Trust {
  /** Verify and keep a keyring (the retained copy of the current one is ignored). */
  onKeyring(raw: Uint8Array): Promise<void>;
  /** A verified desired state to apply; null when it is the applied one, waits for a keyring, or was refused. */
  checkDesired(raw: Uint8Array): StoredDesired | null;
  /** A verified command (its sequence kept); null when refused. */
  checkCommand(raw: Uint8Array): Promise<Command | null>;
  /** Keyring, desired state and command sequence as the last run left them. */
  restore(): Promise<void>;
}

export function createTrust(ctx: AgentContext, options: TrustOptions): Trust {
  const { deviceId, state, clock, store } = ctx;
  let commandSequence = 0;
  let pendingDesired: Uint8Array | null = null;

  function refuse(what: string, code: ErrorCode, message: string): null {
    ctx.count(`refused.${code}`);
    const refusal = { code, message: clip(`${what}: ${message}`, 1024) };
    state.refusal = refusal;
    // design §3: keep running what runs now; report the code and emit an event
    for (const slot of Object.values(state.slots)) ctx.setSlot(refused(slot, refusal));
    options.scheduleReport();
    ctx.emit('verification-failed', `${what} refused: ${message}`, { code });
    return null;
  }

  return {
    async onKeyring(raw) {
      const text = new TextDecoder().decode(raw);
      if (state.keyring && state.keyring.raw === text) return; // retained re-delivery
      const r = verifyKeyring(raw, options.rootPublicKey, state.keyring?.keyring ?? null, new Date(clock.now()));
      if (!r.ok) {
        refuse('keyring', r.code, r.message);
        return;
      }
      const keyring: StoredKeyring = { raw: text, keyring: r.value };
      state.keyring = keyring;
      await ctx.persist('keyring', keyring);
      ctx.emit('keyring-updated', `keyring version ${r.value.version}`);
      if (pendingDesired) {
        const p = pendingDesired;
        pendingDesired = null;
        await options.onPendingDesired(p);
      }
      options.scheduleReport();
    },

    checkDesired(raw) {
      const digest = ctx.digestOf(raw);
      if (state.desired && state.desired.digest === digest) return null; // the retained copy of what is applied already
      if (!state.keyring) {
        pendingDesired = raw; // checked as soon as a keyring arrives
        return null;
      }
      const r = verifyDesiredState(raw, { deviceId, lastSequence: state.desired?.sequence ?? 0, keyring: state.keyring.keyring, now: new Date(clock.now()) });
      if (!r.ok) return refuse('desired state', r.code, r.message);
      const models: WantedModel[] = r.value.models.map((m) => ({ manifest: m.manifest, envelope: m.envelope, role: m.role, ...(m.rolloutId !== undefined ? { rolloutId: m.rolloutId } : {}) }));
      return { sequence: r.value.desired.sequence, digest, models, telemetry: r.value.desired.telemetry };
    },

    async checkCommand(raw) {
      if (!state.keyring) return refuse('command', 'UNKNOWN_KEY', 'no keyring yet');
      const r = verifyCommand(raw, { deviceId, lastSequence: commandSequence, keyring: state.keyring.keyring, now: new Date(clock.now()) });
      if (!r.ok) return refuse('command', r.code, r.message);
      commandSequence = r.value.sequence;
      await ctx.persist('commandSequence', commandSequence);
      return r.value;
    },

    async restore() {
      state.keyring = (await store.get<StoredKeyring>('keyring')) ?? null;
      state.desired = (await store.get<StoredDesired>('desired')) ?? null;
      commandSequence = (await store.get<number>('commandSequence')) ?? 0;
      state.settings = settingsOf(state.desired?.telemetry);
    },
  };
}
