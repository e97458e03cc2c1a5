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
