// Payload size caps, checked before anything is parsed (design §3 "size cap" is the first check).

const KiB = 1024;
const MiB = 1024 * KiB;

export const LIMITS = {
  keyring: 64 * KiB,
  /** A desired state embeds whole signed manifests (self-test tensors, drift reference). */
  desired: 2 * MiB,
  manifest: 1 * MiB,
  command: 16 * KiB,
  chunkRequest: 4 * KiB,
  reported: 64 * KiB,
  status: 16,
  telemetry: 512 * KiB,
  event: 8 * KiB,
  /** Largest chunk payload a frame may carry. */
  chunkBytes: 256 * KiB,
  /** Chunks a device may request in one `artifact/get` (its window). */
  chunkWindow: 64,
  /** Hub-side cap on any MQTT packet, enforced from the fixed header before buffering. */
  mqttPacket: 3 * MiB,
  /** Windows in one telemetry batch. */
  windowsPerBatch: 256,
} as const;

export const DEFAULT_CHUNK_SIZE = 64 * KiB;

/**
 * What one device telemetry window may claim (design §6), checked before it is stored or merged: every
 * size and index a device supplies is bounded, so no window can make the hub allocate or loop by its content.
 */
export const TELEMETRY_LIMITS = {
  /** Ceiling on any count in one window (inferences, errors, buckets, bins, labels): 1e9 calls in ≤ 1 h is ~280k/s. */
  count: 1e9,
  /** Longest window: TelemetrySettings.windowSeconds is at most 3600. */
  spanMs: 3_600_000,
  /** Features per window (a drift reference names at most 256). */
  features: 256,
  /** Class indices are below this (class counts, confusion keys). */
  classes: 4096,
  /** Sparse confusion entries per window, and per merged summary. */
  confusion: 65_536,
  /** How far ahead of the hub's clock a window may start: device clock skew. */
  futureSkewMs: 5 * 60_000,
} as const;
