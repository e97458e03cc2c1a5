// Several hubs on one MQTT 5 broker (design §8): each process is a replica with its own id, its own client
// id and (with Mosquitto's `use_username_as_clientid`) its own broker user, and the device → hub topics are
// split between the replicas by shared subscriptions. What each hub filter becomes on the wire is decided
// here, as data, so the external client only carries it out.

import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EdgefleetError, hubSubscriptions } from '@edgefleet/protocol';

/** The share group every replica joins: `$share/edgefleet/<filter>` (design §8). */
export const SHARE_GROUP = 'edgefleet';

/** Client ids are `edgefleet_hub_<replicaId>`; `_` keeps them apart from every device id (design §4). */
export const HUB_CLIENT_PREFIX = 'edgefleet_hub_';

/**
 * Lower-case letters, digits and `-`, at most 32: a topic-safe, shell-safe id. The default (8 hex digits)
 * makes a 22-byte client id, within the 23 bytes every MQTT server must accept (MQTT 5 §3.1.3.1).
 */
const REPLICA_ID = /^[a-z0-9][a-z0-9-]{0,31}$/;

export function hubClientId(replicaId: string): string {
  return `${HUB_CLIENT_PREFIX}${replicaId}`;
}

/**
 * The replica id: `given` (`--replica-id`), else the one in `<data>/replica-id`, else a new random one
 * written there. Kept in the data dir because the broker keeps a persistent session per client id: a
 * replica that comes back under the same id resumes its session and gets the messages the broker queued
 * for it while it was away (brokers keep handing a disconnected member its share, see README "Brokers"); a
 * new id per start would leave each old session holding its share until the session expires. Replicas
 * that share one data dir must be given distinct ids.
 */
export function resolveReplicaId(dataDir: string, given?: string): string {
  if (given !== undefined) {
    if (!REPLICA_ID.test(given)) throw new EdgefleetError('BAD_INPUT', `replica id must match ${REPLICA_ID.source}, got ${JSON.stringify(given)}`);
    return given;
  }
  const file = join(dataDir, 'replica-id');
  let stored: string | null = null;
  try {
    stored = readFileSync(file, 'utf8').trim();
  } catch {
    // none yet
  }
  if (stored !== null) {
    if (!REPLICA_ID.test(stored)) throw new EdgefleetError('BAD_INPUT', `${file} must hold a replica id matching ${REPLICA_ID.source}`);
    return stored;
  }
  const id = randomBytes(4).toString('hex');
  writeFileSync(file, `${id}\n`, { mode: 0o600, flag: 'wx' });
  return id;
}

/** How one hub filter is subscribed on an MQTT 5 broker shared by replicas. */
export interface ReplicaSubscription {
  /** The live subscription. */
  live: string;
  /**
   * A non-shared subscription made once per (re)connect and dropped at its SUBACK, only for the retained
   * copies the broker queues at subscribe time (brokers differ on handing retained messages to shared
   * subscribers: Mosquitto does, HiveMQ and EMQX do not). Best effort: the database stays the truth.
   */
  snapshot?: string;
}

/**
 * - telemetry, events, artifact requests: shared, each message to one replica (telemetry is de-duplicated
 *   on (deviceId, seq), events on their content, chunks are content-addressed).
 * - reported: shared; a report older than the stored one (by the device's own order, telemetry/
 *   report-order.ts) is not applied, so round-robin delivery cannot regress it. Plus the retained snapshot.
 * - status: not shared. Its body is the bare `online`/`offline` (design §4: the last will is fixed at
 *   connect time), so nothing in it orders two statuses; on its own subscription every replica gets every
 *   status in the broker's order (MQTT 5 §4.6) and the last write is the newest status whichever replica
 *   makes it. One message per connect and disconnect, so N copies are cheap; its retained copy comes with
 *   the subscription on every broker.
 * Anything else (a filter the hub does not know) is subscribed as it is.
 */
export function replicaSubscription(filter: string): ReplicaSubscription {
  const shared = `$share/${SHARE_GROUP}/${filter}`;
  switch (filter) {
    case hubSubscriptions.telemetry:
    case hubSubscriptions.events:
    case hubSubscriptions.artifactGet:
      return { live: shared };
    case hubSubscriptions.reported:
      return { live: shared, snapshot: filter };
    default:
      return { live: filter };
  }
}
