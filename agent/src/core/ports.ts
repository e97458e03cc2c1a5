// The edges the agent core is handed (design §5, STYLE "pure cores, thin shells"): a transport, a store and a
// clock. The Node agent passes mqtt.js + better-sqlite3 + files; the browser runtime passes WebSocket + IndexedDB.

import type { Capture, TelemetryWindow } from '@edgefleet/protocol';

export interface PublishOptions {
  qos: 0 | 1;
  retain?: boolean;
}

export interface SubscribeOutcome {
  topic: string;
  ok: boolean;
  /** Why the broker refused (e.g. SUBACK 128), when it did. */
  reason?: string;
}

/** An MQTT 3.1.1 session that reconnects by itself (with backoff + jitter) until closed. */
export interface Transport {
  readonly connected: boolean;
  /** Start connecting; returns at once. Reconnects are the transport's job. */
  connect(): void;
  close(): Promise<void>;
  /** Resolves when the broker acknowledged (QoS 1) or the packet was written (QoS 0); rejects when not connected. */
  publish(topic: string, payload: Uint8Array | string, options: PublishOptions): Promise<void>;
  subscribe(topics: string[]): Promise<SubscribeOutcome[]>;
  /** Drop subscriptions (artifact multicast after a download, design §4); optional for transports without it. */
  unsubscribe?(topics: string[]): Promise<void>;
  onMessage(handler: (topic: string, payload: Uint8Array) => void): void;
  onConnect(handler: () => void): void;
  onDisconnect(handler: () => void): void;
}

export interface Clock {
  /** Wall-clock epoch milliseconds (window bounds, expiry checks). */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const h = setTimeout(fn, ms);
    // Node: timers of the agent must not keep a process alive on their own.
    (h as { unref?: () => void }).unref?.();
    return h;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** One telemetry batch as it leaves the outbox (design §4 telemetry topic). */
export interface OutboxBatch {
  seq: number;
  /** Marked sent before (this is a re-send waiting for the hub's confirmation). */
  resent?: boolean;
  windows: TelemetryWindow[];
  dropped: number;
  /** Captured rows sent with this batch (design §4 capture), and capture drops since the batch before. */
  captures?: Capture[];
  capturesDropped?: CaptureDrops;
}

/** Captured rows not sent, by why: over a window's byte quota, over the outbox's disk budget, too large. */
export interface CaptureDrops {
  quota: number;
  disk: number;
  oversized: number;
}

/** What feedback needs to join a label to an earlier prediction (design §6 late labels). */
export interface PredictionRecord {
  model: string;
  version: string;
  role: 'active' | 'shadow';
  start: number;
  end: number;
  predicted: number;
}

/**
 * Persistent agent state (design §5 "State lives in the data dir"). Small JSON documents by key
 * (applied sequences, keyring, model slots, manifests), artifacts by sha256 with resumable partial
 * downloads, the bounded telemetry outbox and the late-label index.
 */
export interface AgentStore {
  // Writes that fail for want of space reject with EdgefleetError DISK_FULL; reads never need a free byte.
  get<T>(key: string): Promise<T | undefined>;
  put(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;

  /** Complete, committed artifact bytes, or null. The caller re-checks the sha256. */
  readArtifact(sha256: string): Promise<Uint8Array | null>;
  hasArtifact(sha256: string): Promise<boolean>;
  deleteArtifact(sha256: string): Promise<void>;
  listArtifacts(): Promise<string[]>;
  /** The persisted received-chunk bitmap of a resumable partial download of this layout, or null; writes nothing. */
  peekPartial(sha256: string, size: number, chunkCount: number): Promise<Uint8Array | null>;
  /** Open (or resume) a partial download; returns the persisted received-chunk bitmap. */
  openPartial(sha256: string, size: number, chunkCount: number): Promise<Uint8Array>;
  /** Write one chunk at its offset. Not yet durable until `syncPartial`. */
  writeChunk(sha256: string, offset: number, bytes: Uint8Array): Promise<void>;
  /**
   * Make every chunk whose `writeChunk` has resolved durable, then persist `bitmap` (design §5 resumable).
   * The caller sets bits only for such chunks: a persisted bit always means durable bytes.
   */
  syncPartial(sha256: string, bitmap: Uint8Array): Promise<void>;
  readPartial(sha256: string): Promise<Uint8Array>;
  /** Atomically turn the verified partial into the artifact (fsync + rename). */
  commitPartial(sha256: string): Promise<void>;
  discardPartial(sha256: string): Promise<void>;
  /** sha256s of the partial downloads on disk (a superseded or abandoned download leaves one behind). */
  listPartials(): Promise<string[]>;
  /** Free bytes where artifacts live, or null when unknown. */
  freeBytes(): Promise<number | null>;

  /** Append windows; drops oldest rows beyond `maxRows`; returns how many were dropped now. */
  outboxAppend(windows: TelemetryWindow[], maxRows: number): Promise<number>;
  /**
   * The batch to send next: the oldest unacknowledged one not marked sent, or marked sent before
   * `resendSentBefore` (epoch ms; unset: sent ones are not sent again), again with the same seq; else a new
   * one with the next seq.
   */
  outboxNext(maxWindows: number, maxBytes: number, resendSentBefore?: number): Promise<OutboxBatch | null>;
  /** The batch is done (the broker's PUBACK is final): delete it. */
  outboxAck(seq: number): Promise<void>;
  /** The broker acknowledged the batch at `at` (epoch ms), but it is kept until the hub confirms it (design §4). */
  outboxSent(seq: number, at: number): Promise<void>;
  /** The hub confirmed these seqs (inclusive ranges): delete those batches, sent or not; returns how many. */
  outboxConfirm(ranges: ReadonlyArray<readonly [from: number, to: number]>): Promise<number>;
  outboxSize(): Promise<number>;
  /**
   * Optional (a store without it captures nothing): append captured rows to the outbox, then drop the oldest
   * rows until all it holds fit in `maxBytes` (design §4 capture disk budget); `drops` (counted by the caller)
   * go out with the next new batch beside the disk drops. Returns the rows dropped now. `outboxNext` puts
   * unsent rows into the batch it makes, within its byte bound, and resends them with it.
   */
  captureAppend?(rows: Capture[], maxBytes: number, drops: Omit<CaptureDrops, 'disk'>): Promise<number>;
  /** Captured rows and their bytes in the outbox. */
  captureSize?(): Promise<{ rows: number; bytes: number }>;

  putPredictions(entries: [id: string, record: PredictionRecord][]): Promise<void>;
  getPrediction(model: string, id: string): Promise<PredictionRecord | undefined>;

  close(): Promise<void>;
}
