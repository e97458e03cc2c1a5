// startHub (design §2, §7): opens the data dir (SQLite, artifacts, keys, admin token), starts the embedded
// broker (or connects to `--broker`), the HTTP API, ingest and artifact serving; close() shuts down cleanly.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { serve, type ServerType } from '@hono/node-server';
import { EdgefleetError, hubSubscriptions, parseTopic, topics, type TelemetrySettings } from '@edgefleet/protocol';
import { describeDb, openStore } from './store/db.js';
import { openHubSecrets, type HubKeyOptions } from './trust/hub-secrets.js';
import { HUB_METRICS, createMetrics, type Metrics } from './metrics.js';
import { connectBrokerClient, defaultSessionExpiry, embeddedBrokerGauges, hubClientId, resolveReplicaId, startEmbeddedBroker } from './broker/index.js';
import type { Bus, EmbeddedBrokerOptions, MulticastSubscribers } from './broker/index.js';
import type { HubContext } from './context.js';
import { createCommandSender, createDeviceRegistry, type CommandSender, type DeviceRegistry } from './devices/index.js';
import { createDesiredStates, type DesiredStates } from './desired/index.js';
import { createArtifactStore, createChunkServer, createDeliveries, type ChunkServerOptions } from './artifacts/index.js';
import { createIngest, type Ingest, type IngestOptions } from './telemetry/ingest.js';
import { createModelRegistry, type ModelRegistry } from './models/registry.js';
import { createTelemetryConfirmer } from './telemetry/confirm.js';
import { createApi, loadOrCreateAdminToken } from './http/index.js';
import { createRolloutRunner, type RolloutRunner } from './rollouts/index.js';
import { createLeadership } from './replicas/index.js';
import { agentBrokerUrls, dialHost, mosquittoSyncFor, parseHostPort } from './broker/index.js';
import { attachMqttUpgrade, mqttWebSocketUrl } from './broker/http-upgrade.js';
import { createNotifier, loadOrCreateWebhookSecret, notifierGauges, type Notifier, type RetryPolicy } from './notify/index.js';
import { createAlarms, type AlarmOptions, type Alarms } from './telemetry/alarms.js';
import { createEventLog } from './telemetry/event-log.js';
import { createDeviceRateLimits, type DeviceRateLimitOptions } from './telemetry/rate-limit.js';

export interface HubOptions {
  dataDir: string;
  /**
   * HOST:PORT for the HTTP API. Port 0 picks a free one, and so does leaving it out: the library never
   * grabs a fixed port on its own (tests run in parallel); `edgefleet hub start` applies the design §2
   * defaults 8080 / 1883 / 8083.
   */
  http?: string;
  /** HOST:PORT for embedded MQTT over TCP (default 127.0.0.1:0); null disables. */
  mqtt?: string | null;
  /** HOST:PORT for embedded MQTT over WebSocket (default 127.0.0.1:0); null disables. */
  ws?: string | null;
  /**
   * The database (`--db`): `postgres://user:pass@host:port/db` for PostgreSQL (several replicas share one),
   * or a SQLite file path (`sqlite:PATH` or a bare path). Default: `<data>/hub.db`.
   */
  db?: string;
  /** External broker URL with the hub's credentials (mqtt://user:pass@host:port): no embedded broker. */
  broker?: string;
  /** `broker` mode: this replica's id, client id `edgefleet_hub_<id>` (default: `<data>/replica-id`, made once). */
  replicaId?: string;
  /** `broker` mode: seconds the broker keeps this hub's session while it is away (default: a day on SQLite, 30 s on PostgreSQL; broker/external.ts). */
  brokerSessionExpirySeconds?: number;
  log?: (line: string) => void;
  /** `--broker` mode with Mosquitto: the password file the hub keeps in sync with its devices. */
  mosquittoPasswordFile?: string;
  /**
   * Mosquitto's `pid_file`: after rewriting the password file the hub sends that process SIGHUP, so an
   * added device can connect and a removed one is disconnected at once (without it the operator reloads).
   */
  mosquittoPidFile?: string;
  multicast?: Pick<ChunkServerOptions, 'multicastGatherMs' | 'multicastRepairAfterMs'>; // design §4 carousel tuning (artifacts/chunks.ts)
  mosquittoAclFile?: string; // Mosquitto's acl_file: the hub keeps its multicast section (mosquitto.ts) in step with desired states
  /** Broker URLs written into agent configs (default: the embedded broker's, or `broker` without credentials). */
  agentBrokers?: { tcp?: string; ws?: string };
  /** Base URL agents use for the HTTP API (default: the bound HTTP address). */
  publicUrl?: string;
  /** Raw telemetry windows are kept this many days (default 7); per-minute rollups `rollupRetentionDays` (default 90). */
  telemetryRetentionDays?: number;
  rollupRetentionDays?: number;
  /** Device events are kept this many days (default 30), and at most `eventsPerDevice` per device, the newest (default 1000). */
  eventRetentionDays?: number;
  eventsPerDevice?: number;
  /** Captured field data (design §4 capture): kept `retentionDays` (default 30), at most `maxBytesPerModel` per model, oldest first (default 256 MiB). */
  capture?: { retentionDays?: number; maxBytesPerModel?: number };
  /** Per-device rate limits on stored device → hub messages (defaults: DEVICE_RATE_LIMITS in rate-limit.ts). */
  deviceRateLimits?: DeviceRateLimitOptions;
  /** MQTT packet cap (default LIMITS.mqttPacket). */
  maxPacketBytes?: number;
  /** Embedded broker: limits before CONNACK, CONNECT timeout, unacknowledged messages per connection. */
  mqttLimits?: Pick<EmbeddedBrokerOptions, 'preAuth' | 'connectTimeoutMs' | 'maxUnacked'>;
  /** Ingest batching: commit after this many queued messages or this long after the first (default 2000 / 20 ms). */
  ingest?: Pick<IngestOptions, 'maxBatch' | 'flushMs'>;
  now?: () => Date;
  /** Telemetry settings sent in every desired state (window length, probation; agents' defaults when unset). */
  telemetry?: Partial<TelemetrySettings>;
  /** Period of the rollout engine's ticker in ms (default 1000; design §7 gated rollouts). */
  rolloutTickMs?: number;
  /** Webhook URLs (`--webhook`, repeatable; design §7); more can be added through the API. */
  webhooks?: string[];
  /** On PostgreSQL the keys live in the database, sealed with `keys.encryptionKey` (`--key-file`), re-read every `keys.reloadMs`. */
  keys?: HubKeyOptions;
  /** HMAC secret of webhook signatures (default: `<data>/webhook-secret`, created on first start, 0600; on PostgreSQL the database's). */
  webhookSecret?: string;
  /** Webhook retry policy (default 5 attempts from 1 s). */
  webhookRetry?: RetryPolicy;
  /** Cap of a model upload in bytes (default 1 GiB); enforced while the upload streams. */
  maxModelBytes?: number;
  /** Drift and silent-device alarms (intervals, window, silence limit); false turns the periodic check off. */
  alarms?: AlarmOptions | false;
  /** The browser device page served at /device (default web-runtime/dist/device/ of this checkout). */
  devicePageDir?: string;
  /** COOP/COEP on /device (`--device-isolation`): cross-origin isolated, so ort-web may use threads. */
  deviceIsolation?: boolean;
  /** Artifact files (`--artifacts`; default `<data>/artifacts`): replicas share one directory (content-addressed, atomic renames). */
  artifactsDir?: string;
  /** On PostgreSQL: the leader election's heartbeat and the silence after which another replica takes over. */
  leaderElection?: { retryMs?: number; sessionTimeoutMs?: number };
}

export interface Hub {
  urls: { http: string; mqtt?: string; ws?: string };
  /** The admin token from `<data>/admin-token` ('' when that file was deleted after first start). */
  adminToken: string;
  dataDir: string;
  metrics: Metrics;
  /** Commit queued telemetry now (tests, shutdown). */
  flush(): Promise<void>;
  close(): Promise<void>;
  /** Internals for tests and the rollout engine. */
  readonly services: { ctx: HubContext; devices: DeviceRegistry; desiredStates: DesiredStates; models: ModelRegistry; ingest: Ingest; commands: CommandSender; notifier: Notifier; alarms: Alarms | null; rollouts: RolloutRunner };
}

const DEFAULTS = { http: '127.0.0.1:0', mqtt: '127.0.0.1:0', ws: '127.0.0.1:0' };

export async function startHub(options: HubOptions): Promise<Hub> {
  if (options.mosquittoPidFile && !options.mosquittoPasswordFile) {
    throw new EdgefleetError('BAD_INPUT', 'a mosquitto pid file needs the mosquitto password file the hub keeps (--mosquitto-password-file): that is what the reload applies');
  }
  const log = options.log ?? (() => undefined);
  const now = options.now ?? (() => new Date());
  const dataDir = options.dataDir;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const dbTarget = options.db ?? join(dataDir, 'hub.db');
  const store = await openStore(dbTarget);
  const cleanups: Array<() => Promise<void> | void> = [() => store.close()];
  const cleanup = async () => {
    for (const f of cleanups.reverse()) {
      try {
        await f();
      } catch (err) {
        log(`shutdown: ${String(err)}`);
      }
    }
    cleanups.length = 0;
  };

  try {
    const secrets = await openHubSecrets({ store, dataDir, now, log, ...(options.keys ? { keys: options.keys } : {}), ...(options.webhookSecret ? { webhookSecret: options.webhookSecret } : {}) });
    const { keys, created, renewed } = secrets;

    const adminToken = await loadOrCreateAdminToken(store, join(dataDir, 'admin-token'), now().toISOString(), log);
    // design §7: key creation and keyring signing are audited like every other act of the hub
    const keyIds = created ? { root: keys.root.keyId, release: keys.release.keyId, director: keys.director.keyId } : {};
    if (created || renewed) await store.appendAudit('hub', created ? 'keys.create' : 'keyring.sign', { keyring: keys.keyring.version, expiresAt: keys.keyring.expiresAt, ...keyIds });

    const metrics = createMetrics([...HUB_METRICS]);
    const replicaId = options.broker || store.engine === 'postgres' ? resolveReplicaId(dataDir, options.replicaId) : '';
    // design §8: on PostgreSQL one elected replica runs the engine, alarms and upkeep; it starts them at once
    let onElected = () => undefined as void;
    const leadership = createLeadership({ store, dbUrl: dbTarget, replicaId, log, metrics, onElected: () => onElected(), ...options.leaderElection });
    cleanups.push(() => leadership.close());
    let devices: DeviceRegistry | undefined;
    let httpUrl = '';
    const brokerUrls: { mqtt?: string; ws?: string } = {};

    // ---- broker ----
    let bus: Bus;
    let embedded: Awaited<ReturnType<typeof startEmbeddedBroker>> | null = null;
    let multicastSubscribers: MulticastSubscribers | undefined; // design §4 multicast: embedded broker only
    let mayMulticast: (deviceId: string, sha256: string) => Promise<boolean> = async () => false;
    let setMarkOffline: (f: (id: string) => void) => void = () => undefined;
    const rejectMetric = (topic: string, reason: string) => metrics.inc('edgefleet_rejected_messages_total', { reason, topic });
    const clientId = options.broker ? hubClientId(replicaId) : '';
    if (options.broker) {
      const onConnection = (event: string) => metrics.inc('edgefleet_broker_connections_total', { event });
      const sessionExpirySeconds = options.brokerSessionExpirySeconds ?? defaultSessionExpiry(store.engine); // design §8: replicas take over a share
      bus = await connectBrokerClient(options.broker, { clientId, log, onConnection, sessionExpirySeconds });
    } else {
      let markOffline: (id: string) => void = () => undefined;
      const broker = await startEmbeddedBroker({
        mqtt: options.mqtt === undefined ? DEFAULTS.mqtt : options.mqtt,
        ws: options.ws === undefined ? DEFAULTS.ws : options.ws,
        maxPacketBytes: options.maxPacketBytes,
        ...options.mqttLimits,
        checkDevice: async (id, password) => (devices ? devices.checkCredentials(id, password) : false),
        onRefused: (reason) => metrics.inc('edgefleet_mqtt_connections_refused_total', { reason }),
        onOversize: () => rejectMetric('mqtt', 'TOO_LARGE'),
        onClientGone: (id) => markOffline(id),
        mayMulticast: (id, sha) => mayMulticast(id, sha),
      });
      bus = broker.bus;
      embedded = broker;
      multicastSubscribers = broker.multicast;
      Object.assign(brokerUrls, broker.urls);
      // a clean DISCONNECT sends no last will: the device is gone all the same. Through the ingest
      // queue, so it cannot overtake an `online` the device published just before
      setMarkOffline = (f) => (markOffline = f);
    }
    let busClosed: Promise<void> | null = null;
    const closeBus = () => (busClosed ??= bus.close());
    cleanups.push(closeBus);

    // an embedded broker's WebSocket for agents is the HTTP port's /mqtt (one origin; wss:// behind HTTPS)
    const agentBrokers = () => agentBrokerUrls(options.agentBrokers, options.broker, { ...brokerUrls, ...(httpUrl ? { ws: mqttWebSocketUrl(options.publicUrl ?? httpUrl) } : {}) });

    // design §7: webhooks (an outbox in the database); the notifier closes (a short wait for in-flight deliveries) before it
    const webhookSecret = loadOrCreateWebhookSecret(dataDir, secrets.webhookSecret);
    if (webhookSecret.created) log(`webhook secret written to ${webhookSecret.file}`);
    const notifier = createNotifier({
      store: store.webhooks, urls: options.webhooks ?? [], secret: webhookSecret.secret,
      ...(options.webhookRetry ? { retry: options.webhookRetry } : {}),
      hub: () => options.publicUrl ?? httpUrl,
      replica: replicaId,
      log,
      now,
    });
    cleanups.push(() => notifier.close());
    await notifier.ready();
    notifierGauges(metrics, notifier);

    const ctx: HubContext = {
      store,
      keys,
      bus,
      metrics,
      dataDir,
      log,
      now,
      hubUrl: () => options.publicUrl ?? httpUrl,
      agentBrokers,
      reject: rejectMetric,
      notifier,
    };

    // ---- services ----
    const artifacts = createArtifactStore(options.artifactsDir ?? join(dataDir, 'artifacts'));
    cleanups.push(() => artifacts.close());
    // design §4 telemetry: behind an external broker a device's PUBACK comes from the broker, not from a
    // commit here, so devices keep batches until confirmed; the embedded broker acknowledges only committed ones
    const telemetrySettings = options.broker ? { ...options.telemetry, confirm: true } : options.telemetry;
    const syncMosquitto = mosquittoSyncFor(options, {
      grants: async () => (await store.listDesired()).map((d) => ({ user: d.deviceId, topics: d.artifacts.map(topics.artifactMulticast) })),
      entries: async () => (await store.brokerHashes()).map((d) => ({ user: d.id, hash: d.hash })),
      onReload: (outcome) => metrics.inc('edgefleet_mosquitto_reloads_total', { outcome }),
      log,
    });
    const desiredStates = createDesiredStates(ctx, { leading: leadership.leading, ...(telemetrySettings ? { telemetry: telemetrySettings } : {}), ...(options.mosquittoAclFile ? { beforePublish: () => syncMosquitto() } : {}) }); // design §4 multicast: ACL grants first
    cleanups.push(() => desiredStates.close());
    const confirmer = options.broker ? createTelemetryConfirmer(ctx) : null;
    const eventLog = createEventLog(store, options.eventsPerDevice !== undefined ? { maxPerDevice: options.eventsPerDevice } : {});
    const ingest = createIngest(ctx, {
      ...options.ingest,
      events: eventLog, replica: replicaId, // design §8: the rollup rows it writes are its own
      ...(confirmer ? { onTelemetryDone: (id: string, seq: number) => confirmer.done(id, seq) } : {}),
      rateLimits: createDeviceRateLimits(options.deviceRateLimits),
      // a window older than raw retention would be pruned at once (and its batch's record may be gone)
      maxWindowAgeMs: (options.telemetryRetentionDays ?? 7) * 86_400_000,
      // design §7: a device's own automatic rollback (probation) is a webhook event
      onEvent: (deviceId, e) => {
        if (e.type === 'rolled-back') notifier.emit('device-rolled-back', { deviceId, model: e.model ?? null, version: e.version ?? null, code: e.code ?? null, message: e.message, at: e.at });
      },
    });
    setMarkOffline((id) => ingest.status(id, 'offline'));
    const deliveries = createDeliveries(store.deliveries, store.changes);
    const chunks = createChunkServer(ctx, artifacts, (id, sha) => desiredStates.mayFetch(id, sha), {
      multicast: multicastSubscribers, multicastReported: Boolean(options.mosquittoAclFile), ...options.multicast,
      onRequested: (id, sha, indices, count, viaMulticast) => deliveries.requested(id, sha, indices, count, viaMulticast),
    });
    mayMulticast = (id, sha) => desiredStates.mayFetch(id, sha);
    devices = createDeviceRegistry(
      ctx,
      {
        // the API answers once the device's desired state is issued (a late joiner gets its rollouts)
        onChanged: async (id) => {
          ingest.forget(id);
          await desiredStates.recompute(id).catch((err) => log(`desired state for ${id}: ${String(err)}`));
        },
        onRemoved: async (id) => {
          ingest.forget(id);
          chunks.drop(id);
          await desiredStates.removed(id);
        },
      },
      { brokerHashes: Boolean(options.mosquittoPasswordFile), onCredentialsChanged: syncMosquitto },
    );
    await syncMosquitto();
    const models = createModelRegistry(ctx, artifacts);
    cleanups.push(() => confirmer?.close(), () => ingest.close()); // the last flush, before the database closes

    // ---- MQTT wiring ----
    if (!options.broker) await store.markAllOffline(now().toISOString()); // nobody is connected to a broker that just started
    const publishKeyring = async () => bus.publish(topics.keyring(), await secrets.currentKeyring(), { qos: 1, retain: true });
    await publishKeyring();
    cleanups.push(secrets.watch(publishKeyring));
    await ingest.subscribe();
    await bus.subscribe(hubSubscriptions.artifactGet, (topic, payload) => {
      const t = parseTopic(topic);
      if (t?.kind !== 'artifact-get') return;
      return chunks.handle(t.deviceId, payload).catch((err: unknown) => {
        log(`artifact/get from ${t.deviceId}: ${String(err)}`);
        rejectMetric('artifact-get', 'INTERNAL');
      });
    });
    // an embedded broker keeps retained messages in memory only; an external one has all but what a crash cut short
    await (options.broker ? desiredStates.drain() : desiredStates.republishAll());
    // A restarted external broker may have lost the retained keyring and desired states, or restored older
    // ones: publish the current ones again (same sequences: harmless).
    bus.onReconnect?.(() => {
      void (async () => {
        await publishKeyring();
        await desiredStates.republishAll();
        metrics.inc('edgefleet_broker_republish_total', {});
      })().catch((err: unknown) => log(`republish after broker reconnect: ${String(err)}`));
    });

    // ---- HTTP ----
    const commands = createCommandSender(ctx);
    // design §7: the gated rollout engine; it stops (finishing its current step) before the database closes
    const rollouts = createRolloutRunner(ctx, desiredStates, { deliveries, leading: leadership.leading, ...(options.rolloutTickMs !== undefined ? { tickMs: options.rolloutTickMs } : {}) });
    cleanups.push(() => rollouts.close());
    const devicePage = { ...(options.devicePageDir ? { dir: options.devicePageDir } : {}), isolation: options.deviceIsolation ?? false };
    const app = createApi({ ctx, devices, desiredStates, models, artifacts, commands, rollouts, devicePage, ...(options.maxModelBytes !== undefined ? { maxModelBytes: options.maxModelBytes } : {}) });
    metrics.gaugeAsync('edgefleet_devices', 'Registered devices by last known status.', async () => {
      const rows = await store.deviceStatusCounts();
      return ['online', 'offline'].map((s) => ({ labels: { status: s }, value: rows.find((r) => r.status === s)?.n ?? 0 }));
    });
    if (embedded) embeddedBrokerGauges(metrics, embedded);
    const { host, port } = parseHostPort(options.http ?? DEFAULTS.http, 'http address');
    const server: ServerType = await new Promise((resolve, reject) => {
      const s = serve({ fetch: app.fetch, hostname: host, port }, () => resolve(s));
      s.once('error', reject);
    });
    attachMqttUpgrade(server as Server, embedded, (reason) => metrics.inc('edgefleet_mqtt_connections_refused_total', { reason }));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        }),
    );
    httpUrl = `http://${dialHost(host)}:${(server.address() as AddressInfo).port}`;

    // hourly upkeep: desired states expire (design §3), re-sign those past half their life; telemetry
    // retention (design §7: raw windows for a retention period, merged rollups kept longer)
    const DAY = 86_400_000;
    const upkeep = async () => {
      if (!leadership.leading()) return;
      void desiredStates.refreshExpiring().catch((err) => log(`refresh desired states: ${String(err)}`));
      const t = now().getTime();
      await ingest.prune(t - (options.telemetryRetentionDays ?? 7) * DAY, t - (options.rollupRetentionDays ?? 90) * DAY).catch((err) => log(`telemetry retention: ${String(err)}`));
      await eventLog.prune(now().getTime() - (options.eventRetentionDays ?? 30) * DAY).catch((err) => log(`event retention: ${String(err)}`));
      await store.captures.prune(t - (options.capture?.retentionDays ?? 30) * DAY, options.capture?.maxBytesPerModel ?? 256 * 2 ** 20).catch((err) => log(`capture retention: ${String(err)}`));
    };
    let upkeeping: Promise<void> = Promise.resolve();
    const runUpkeep = () => (upkeeping = upkeeping.then(upkeep));
    const refresh = setInterval(() => void runUpkeep(), 3_600_000).unref();
    cleanups.push(() => upkeeping, () => clearInterval(refresh)); // before the database closes (cleanups run in reverse)
    await runUpkeep(); // retention applies before the hub serves: nothing past it is read at start
    const alarms = options.alarms === false ? null : createAlarms(ctx, notifier, options.alarms, leadership.leading);
    cleanups.push(() => alarms?.close());
    onElected = () => void Promise.all([desiredStates.drain(), rollouts.tick(), runUpkeep(), alarms?.check()]).catch((err: unknown) => log(`on election: ${String(err)}`));
    if (leadership.leading()) onElected(); // elected before the work existed

    const urls: Hub['urls'] = { http: httpUrl, ...(brokerUrls.mqtt ? { mqtt: brokerUrls.mqtt } : {}), ...(brokerUrls.ws ? { ws: brokerUrls.ws } : {}) };
    log(`db ${describeDb(dbTarget)}`);
    log(`http ${urls.http}`);
    if (urls.mqtt) log(`mqtt ${urls.mqtt}`);
    if (urls.ws) log(`ws ${urls.ws}`);
    if (options.broker) log(`broker ${new URL(options.broker).host} (as ${clientId})`);

    let closing: Promise<void> | null = null;
    return {
      urls,
      adminToken,
      dataDir,
      metrics,
      flush: () => ingest.flush(),
      close() {
        closing ??= (async () => {
          clearInterval(refresh);
          await rollouts.close().catch(() => undefined); // no engine step publishes into a closing broker
          await desiredStates.close().catch(() => undefined);
          // stop the broker (or leave the external one) first, so nothing arrives after the last
          // ingest flush; cleanup then flushes ingest, closes HTTP, artifacts and the database
          await closeBus().catch((err: unknown) => log(`closing broker: ${String(err)}`));
          await cleanup();
        })();
        return closing;
      },
      services: { ctx, devices, desiredStates, models, ingest, commands, notifier, alarms, rollouts },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
