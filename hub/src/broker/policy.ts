// Broker access control of design §4 as aedes hooks: who may connect, publish and subscribe.
// Each refusal maps once to an MQTT return code (connect) or a refused subscription / closed connection.

import { deviceMayPublish, deviceMaySubscribe, parseTopic } from '@edgefleet/protocol';
import type { AedesOptions } from 'aedes';

export interface BrokerPolicyOptions {
  /** True when `password` is the current token of device `deviceId`. */
  checkDevice(deviceId: string, password: Buffer | undefined): Promise<boolean>;
  onRefused(reason: string): void;
  /**
   * Whether `deviceId` may subscribe to the multicast topic of `sha256` (design §4: only devices whose
   * current desired state names that artifact). Without it, multicast subscriptions are refused.
   */
  mayMulticast?(deviceId: string, sha256: string): Promise<boolean>;
}

/** Client ids become topic levels and usernames: refuse anything that could act as a wildcard or level. */
export function isSafeClientId(id: string): boolean {
  return id.length > 0 && !/[+#/]/.test(id);
}

function authError(returnCode: 2 | 3 | 4 | 5, message: string) {
  return Object.assign(new Error(message), { returnCode });
}

export function createBrokerPolicy(options: BrokerPolicyOptions): Pick<
  AedesOptions,
  'preConnect' | 'authenticate' | 'authorizePublish' | 'authorizeSubscribe'
> {
  return {
    preConnect(_client, packet, done) {
      // No persistent sessions for devices: an offline session queues QoS 1 messages in broker memory
      // without bound (design §4: one client cannot exhaust the hub's memory). Nothing is lost by it:
      // desired states are retained, and chunks and telemetry are re-requested / re-sent by the agent.
      packet.clean = true;
      done(null, true);
    },
    authenticate(client, username, password, done) {
      if (!isSafeClientId(client.id)) {
        options.onRefused('bad_client_id');
        return done(authError(2, 'client id must not contain +, # or /') as never, false);
      }
      // design §4: username = device id = client id, password = device token
      if (username === undefined || username !== client.id) {
        options.onRefused('client_id_mismatch');
        return done(authError(2, 'client id must equal the username') as never, false);
      }
      options.checkDevice(username, password).then(
        (ok) => {
          if (ok) return done(null, true);
          options.onRefused('bad_credentials');
          done(authError(4, 'bad username or password') as never, false);
        },
        (err: unknown) => {
          // the registry could not be read (database down): refused as unavailable, the device retries
          options.onRefused('unavailable');
          done(authError(3, `registry unavailable: ${String(err)}`) as never, false);
        },
      );
    },
    authorizePublish(client, packet, done) {
      // client null: the broker itself (hub in-process publishes never pass here; wills do, with their client)
      if (client === null) return done(null);
      if (!deviceMayPublish(client.id, packet.topic)) {
        options.onRefused('publish_denied');
        return done(new Error(`publish to ${packet.topic} denied`));
      }
      // design §4: events and telemetry are not retained; a retained copy would be handed to the hub again
      const kind = parseTopic(packet.topic)?.kind;
      if (packet.retain && (kind === 'events' || kind === 'telemetry')) packet.retain = false;
      done(null);
    },
    authorizeSubscribe(client, sub, done) {
      const parsed = parseTopic(sub.topic);
      if (parsed?.kind === 'artifact-multicast' && !sub.topic.includes('+') && !sub.topic.includes('#')) {
        const may = options.mayMulticast ? options.mayMulticast(client.id, parsed.sha256) : Promise.resolve(false);
        may.then(
          (ok) => {
            if (!ok) options.onRefused('subscribe_denied');
            done(null, ok ? sub : null);
          },
          () => {
            options.onRefused('subscribe_denied');
            done(null, null);
          },
        );
        return;
      }
      if (!deviceMaySubscribe(client.id, sub.topic)) {
        options.onRefused('subscribe_denied');
        return done(null, null); // SUBACK 0x80 for this filter (MQTT 3.1.1 §3.9.3)
      }
      done(null, sub);
    },
  };
}
