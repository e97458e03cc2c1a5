// store/: every SQL statement the hub runs (design §7), behind typed methods — the SQLite file in WAL
// mode and its append-only migrations (db.ts), plus one file per domain whose statements are prepared
// once per database: telemetry, events, fleet and alarms, device query, deliveries, webhooks, audit,
// enrolment codes. sql.ts is the seam to an engine; postgres.ts the PostgreSQL backend behind it (pg),
// with its own migrations (migrations-pg.ts, the same schema as migrations.ts).
// May import: protocol only (and its engines' npm packages). Every room may import it; nothing outside it calls `.prepare(` (a test says so).
export type { Dialect, SqlDatabase, SqlParams, SqlRunner, SqlValue } from './sql.js';
export { openPostgres, PG_MAX_PARAMS, type PostgresOptions } from './postgres.js';
export { openSqlite, sqliteDialect } from './sqlite.js';
export { MIGRATIONS } from './migrations.js';
export { MIGRATION_LOCK_KEY, PG_MIGRATIONS } from './migrations-pg.js';
export { auditHash, openStore, type Db, type DesiredRow, type DeviceRow, type ModelVersionRow, type Role, type RolloutRow, type RolloutTargets, type Store, type TokenRow } from './db.js';
export { createAuditStore, type AuditChainRow, type AuditStore } from './audit.js';
export { createDeliveryRecords, type DeliveryRecords } from './deliveries.js';
export { queryDevices, type DeviceFilter } from './device-query.js';
export { createEnrolmentSql, type EnrolmentCodeRow, type EnrolmentSql } from './enrolment.js';
export { createEventSql, type EventSql, type RecentEvent } from './events.js';
export { createFleetSql, type FleetSql, type OpenAlarm } from './fleet.js';
export { createTelemetrySql, type TelemetrySql } from './telemetry.js';
export { createWebhookStore, type DeliveryRow, type WebhookRow, type WebhookStore } from './webhooks.js';
export { openLockSession, type LockSession, type LockSessionOptions, type LockSessionRunner } from './lock-session.js';
