// store/: every SQL statement the hub runs (design §7), behind async methods — the Store (db.ts) with one
// file per domain (telemetry, events, fleet and alarms, device query, deliveries, webhooks, audit, enrolment
// codes, the hub's secrets), written once in the SQL both engines run. sql.ts is the seam to an engine: SQLite (sqlite.ts,
// better-sqlite3, migrations.ts) or PostgreSQL (postgres.ts, pg, migrations-pg.ts: the same schema).
// Change notices between replicas (changes.ts, `store.changes`): `publish(topic, key)` — inside a transaction
// it is sent when that commits, to every replica, this one too — and `subscribe(topic, fn)`, where fn(key)
// drops what the replica cached of key, and fn(null) everything (the listener reconnected: notices may be
// lost). Topic and key are short strings; a notice names what changed, never carries it. CHANGE_TOPICS lists
// the store's own topics.
// May import: protocol only (and its engines' npm packages). Every room may import it; nothing outside it calls `.prepare(` (a test says so).
export type { Dialect, SqlDatabase, SqlParams, SqlRunner, SqlValue } from './sql.js';
export { openPostgres, PG_MAX_PARAMS, type PostgresOptions } from './postgres.js';
export { openSqlite, sqliteDialect } from './sqlite.js';
export { MIGRATIONS } from './migrations.js';
export { MIGRATION_LOCK_KEY, PG_MIGRATIONS } from './migrations-pg.js';
export { auditHash, CHAIN_LOCK, checkDbTarget, createStore, describeDb, openStore, serializeOn, type DesiredRow, type DeviceRow, type ModelVersionRow, type Role, type RolloutRow, type RolloutTargets, type Store, type TokenRow } from './db.js';
export { createAuditStore, type AuditChainRow, type AuditStore } from './audit.js';
export { createDeliveryRecords, type DeliveryRecords } from './deliveries.js';
export { createDeviceQuery, type DeviceFilter } from './device-query.js';
export { createEnrolmentSql, type EnrolmentCodeRow, type EnrolmentSql } from './enrolment.js';
export { createEventSql, type EventSql, type RecentEvent } from './events.js';
export { createFleetSql, type FleetSql, type OpenAlarm } from './fleet.js';
export { batchKey, createTelemetrySql, type BatchInsert, type RollupKey, type TelemetrySql, type WindowInsert } from './telemetry.js';
export { createSecretSql, type SecretRow, type SecretSql } from './secrets.js';
export { createWebhookStore, type DeliveryRow, type WebhookOutbox, type WebhookRow, type WebhookStore } from './webhooks.js';
export { createOutboxSql, type EnqueueOutcome, type OutboxBound, type OutboxCounts, type OutboxInsert, type OutboxRow, type OutboxSql } from './webhook-outbox.js';
export { CHANGE_TOPICS, CHANGES_CHANNEL, createChanges, type Changes } from './changes.js';
export { openLockSession, type LockSession, type LockSessionOptions, type LockSessionRunner } from './lock-session.js';
