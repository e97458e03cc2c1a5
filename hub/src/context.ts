// What every hub service shares: the store, keys, the broker bus, metrics, clock and log.

import type { Store } from './store/db.js';
import type { HubKeys } from './trust/keys.js';
import type { Bus } from './broker/bus.js';
import type { Metrics } from './metrics.js';
import type { Notifier } from './notify/port.js';

export interface HubContext {
  store: Store;
  keys: HubKeys;
  bus: Bus;
  metrics: Metrics;
  dataDir: string;
  log: (line: string) => void;
  now: () => Date;
  /** Base URL of the HTTP API as agents reach it (artifact range requests). */
  hubUrl: () => string;
  /** Broker URLs written into agent configs. */
  agentBrokers: () => { tcp?: string; ws?: string };
  /** Count a dropped inbound message (design §4). */
  reject: (topic: string, reason: string) => void;
  /** Outbound webhooks (design §7): `notifier.emit(event, payload)` queues signed deliveries, never blocks. */
  notifier: Notifier;
}
