// Schema migrations of the hub database (design §7). Append only: a shipped migration is never edited.

export const MIGRATIONS: readonly string[] = [
  // 1: registry, deployments, telemetry, tokens, audit
  `
  CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    tags TEXT NOT NULL DEFAULT '{}',
    token_hash TEXT NOT NULL,
    -- mosquitto $7$ PBKDF2 line body for --broker mode; the plaintext token is never stored
    broker_hash TEXT,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'offline',
    status_at TEXT,
    last_seen TEXT,
    reported TEXT,
    reported_at TEXT
  );
  -- never deleted: a removed and re-added device id must not reuse a sequence (design §3)
  CREATE TABLE device_sequences (
    device_id TEXT PRIMARY KEY,
    desired INTEGER NOT NULL DEFAULT 0,
    command INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE desired_states (
    device_id TEXT PRIMARY KEY,
    sequence INTEGER NOT NULL,
    envelope TEXT NOT NULL,
    artifacts TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
  );
  CREATE TABLE model_versions (
    model TEXT NOT NULL,
    version TEXT NOT NULL,
    release INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    manifest TEXT NOT NULL,
    envelope TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (model, version),
    UNIQUE (model, release)
  );
  CREATE INDEX model_versions_sha ON model_versions (sha256);
  CREATE TABLE rollouts (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    model TEXT NOT NULL,
    version TEXT NOT NULL,
    role TEXT NOT NULL,
    targets TEXT NOT NULL,
    options TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    name TEXT,
    created_at TEXT NOT NULL
  );
  CREATE TABLE telemetry_batches (
    device_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    windows INTEGER NOT NULL,
    dropped INTEGER NOT NULL,
    PRIMARY KEY (device_id, seq)
  ) WITHOUT ROWID;
  CREATE TABLE telemetry_windows (
    id INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL,
    model TEXT NOT NULL,
    version TEXT NOT NULL,
    role TEXT NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    inferences INTEGER NOT NULL,
    body TEXT NOT NULL,
    received_at INTEGER NOT NULL
  );
  CREATE INDEX telemetry_windows_mv ON telemetry_windows (model, version, start);
  CREATE TABLE rollups (
    model TEXT NOT NULL,
    version TEXT NOT NULL,
    role TEXT NOT NULL,
    minute INTEGER NOT NULL,
    inferences INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (model, version, role, minute)
  ) WITHOUT ROWID;
  -- which devices reported in a rollup minute (gates need a minimum of reporting devices, design §7)
  CREATE TABLE rollup_devices (
    model TEXT NOT NULL,
    version TEXT NOT NULL,
    role TEXT NOT NULL,
    minute INTEGER NOT NULL,
    device_id TEXT NOT NULL,
    PRIMARY KEY (model, version, role, minute, device_id)
  ) WITHOUT ROWID;
  CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL,
    type TEXT NOT NULL,
    model TEXT,
    version TEXT,
    code TEXT,
    message TEXT NOT NULL,
    at TEXT NOT NULL,
    received_at INTEGER NOT NULL
  );
  CREATE INDEX events_device ON events (device_id, id);
  CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
  );
  `,
  // 2: webhooks (design §7): configured URLs, the delivery log (one row per attempt), raised alarms
  `
  CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL
  );
  CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY,
    delivery_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event TEXT NOT NULL,
    url TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    status INTEGER,
    error TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL
  );
  CREATE INDEX webhook_deliveries_delivery ON webhook_deliveries (delivery_id);
  -- open alarms (drift per model version and feature, silent devices): raised once until they clear
  CREATE TABLE alarms (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    raised_at TEXT NOT NULL,
    details TEXT NOT NULL
  );
  `,
  // 3: gated rollouts (design §7): the engine's resolved spec and persisted state per rollout; NULL for
  // rollouts issued all at once (and for every rollout made before this migration)
  `
  ALTER TABLE rollouts ADD COLUMN spec TEXT;
  ALTER TABLE rollouts ADD COLUMN state TEXT;
  `,
  // 4: per device, the highest telemetry seq whose de-duplication record retention has removed: it outlives
  // the raw windows, so a batch replayed after retention is still a duplicate (design §4)
  `
  CREATE TABLE telemetry_seq_floor (
    device_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
  ) WITHOUT ROWID;
  -- per device and artifact, the chunks it asked the hub for (a bitmap): a reported version is believed
  -- once its artifact was fetched whole, or the device's telemetry names it (rollout convergence, design §7)
  CREATE TABLE artifact_fetches (
    device_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    requested BLOB NOT NULL,
    complete INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (device_id, sha256)
  ) WITHOUT ROWID;
  `,
  // 5: one-time enrolment codes (issue 12: a browser device enrols from a link the dashboard shows): only the
  // code's sha256 is kept; a code is burnt (used_at) by its one redemption and goes with its device
  `
  CREATE TABLE enrolment_codes (
    hash TEXT PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
  ) WITHOUT ROWID;
  CREATE INDEX enrolment_codes_device ON enrolment_codes (device_id);
  CREATE INDEX enrolment_codes_expiry ON enrolment_codes (expires_at);
  `,
  // 6: the desired-state outbox (design §8): per device, the sequence last published. Any replica stores a
  // desired state; the leader publishes those ahead of it, in order, and records it. Rows stored before this
  // migration start at 0: published once more on the first start (same sequence, harmless to a device).
  `
  ALTER TABLE desired_states ADD COLUMN published INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX desired_states_unpublished ON desired_states (device_id) WHERE published < sequence;
  `,
  // 7: the hub's keys and shared secrets on PostgreSQL (several replicas read one set; trust/db-keys.ts): one row
  // per secret, private parts sealed with the operator's key-encryption key; `version` grows on every change,
  // so replicas see a rotation. SQLite keeps its keys as files in the data dir and leaves this table empty.
  `
  CREATE TABLE hub_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    updated_at TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
  // 8: rollups keyed by the replica that wrote them too (design §8): each replica writes its own row of a
  // minute and readers add the rows up, so no replica waits on another's. A key cannot change in place in
  // SQLite: the table is rebuilt; rows written before belong to replica ''
  `
  CREATE TABLE rollups_by_replica (
    model TEXT NOT NULL,
    version TEXT NOT NULL,
    role TEXT NOT NULL,
    minute INTEGER NOT NULL,
    replica TEXT NOT NULL DEFAULT '',
    inferences INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (model, version, role, minute, replica)
  ) WITHOUT ROWID;
  INSERT INTO rollups_by_replica (model, version, role, minute, replica, inferences, errors, body)
    SELECT model, version, role, minute, '', inferences, errors, body FROM rollups;
  DROP TABLE rollups;
  ALTER TABLE rollups_by_replica RENAME TO rollups;
  `,
  // 9: the webhook outbox (design §7, §8): one row per delivery not yet done, so a delivery survives a crash and
  // any replica's workers claim due rows (a lease: claimed_by, claimed_until epoch ms; a crashed claimer's rows
  // are claimed again after it). A device-level delivery not yet sent carries its coalescing key, unique, so a
  // later event of the same (event, device, url) folds into it; the key goes when the row is first claimed
  // and its body signed (every retry sends those bytes). fleet = 1: claimed before device-level rows.
  `
  CREATE TABLE webhook_outbox (
    id INTEGER PRIMARY KEY,
    delivery_id TEXT NOT NULL UNIQUE,
    event_id TEXT NOT NULL,
    event TEXT NOT NULL,
    fleet INTEGER NOT NULL,
    url TEXT NOT NULL,
    webhook_id TEXT,
    coalesce_key TEXT,
    payload TEXT NOT NULL,
    at TEXT NOT NULL,
    first_at TEXT NOT NULL,
    occurrences INTEGER NOT NULL DEFAULT 1,
    body TEXT,
    signature TEXT,
    attempt INTEGER NOT NULL DEFAULT 1,
    due_at INTEGER NOT NULL,
    claimed_by TEXT,
    claimed_until INTEGER
  );
  CREATE UNIQUE INDEX webhook_outbox_coalesce ON webhook_outbox (coalesce_key) WHERE coalesce_key IS NOT NULL;
  CREATE INDEX webhook_outbox_claim ON webhook_outbox (fleet, id);
  CREATE INDEX webhook_outbox_receiver ON webhook_outbox (webhook_id);
  `,
  // 10: frozen wave results (design §7: rollout history does not change): a wave's device counts, failed devices
  // and gates, written once when the wave ends and read instead of recomputing from devices' current state
  `
  CREATE TABLE rollout_wave_results (
    rollout_id TEXT NOT NULL,
    wave INTEGER NOT NULL,
    ended_at TEXT NOT NULL,
    result TEXT NOT NULL,
    PRIMARY KEY (rollout_id, wave)
  ) WITHOUT ROWID;
  `,
  // 11: captured field data (design §4 capture) by model version, joined to late labels by prediction id and
  // de-duplicated per device; and every dataset export with its content hash (lineage for `model push --dataset`)
  `
  CREATE TABLE captures (
    id INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL,
    model TEXT NOT NULL,
    version TEXT NOT NULL,
    prediction_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    cause TEXT NOT NULL,
    features TEXT NOT NULL,
    prediction TEXT,
    confidence REAL,
    label TEXT,
    label_at INTEGER,
    bytes INTEGER NOT NULL,
    UNIQUE (device_id, model, prediction_id)
  );
  CREATE INDEX captures_version ON captures (model, version, at);
  CREATE INDEX captures_received ON captures (received_at);
  CREATE TABLE dataset_exports (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL,
    model TEXT NOT NULL,
    version TEXT NOT NULL,
    filters TEXT NOT NULL,
    row_count INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL
  );
  CREATE INDEX dataset_exports_sha256 ON dataset_exports (sha256);
  `,
  // 12: capture policies set at run time per model version (design §4 capture): the rule (JSON, model and
  // version taken from the key) every desired state naming that version carries, before the hub's defaults
  `
  CREATE TABLE capture_policies (
    model TEXT NOT NULL,
    version TEXT NOT NULL,
    rule TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    actor TEXT NOT NULL,
    PRIMARY KEY (model, version)
  ) WITHOUT ROWID;
  `,
];
