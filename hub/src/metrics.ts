// A minimal Prometheus text-format registry (counters, gauges and histograms with labels) for `/metrics`
// (design §7), named and shaped by the exposition conventions so `promtool check metrics` passes.

import { readFileSync } from 'node:fs';

/** The hub package's version (its package.json, one level up from src/ and dist/ alike). */
export const HUB_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

type Labels = Record<string, string>;

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  values: Map<string, { labels: Labels; value: number }>;
  collect?: () => Array<{ labels: Labels; value: number }>;
}

/** One histogram series: per-bucket (not cumulative) counts, the last one above every bound (+Inf). */
interface HistogramSeries {
  labels: Labels;
  counts: number[];
  sum: number;
  count: number;
}

interface HistogramFamily {
  name: string;
  help: string;
  /** Upper bounds, ascending; +Inf is implied. */
  bounds: readonly number[];
  series: Map<string, HistogramSeries>;
}

/** Prometheus' `le` label: Go's float formatting for the bounds in use (0.005, 1, 2.5), +Inf for the last. */
function leOf(bound: number): string {
  return bound === Infinity ? '+Inf' : String(bound);
}

/** A metric the hub declares up front; `zero` label sets are exposed at 0 before their first count (a label-free counter always is). */
export interface MetricDef {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  zero?: readonly Labels[];
}

/** A histogram the hub declares up front: its series appear with their first observation. */
export interface HistogramDef {
  name: string;
  help: string;
  /** Bucket upper bounds in the metric's unit, ascending (+Inf is added). */
  bounds: readonly number[];
}

/**
 * Inference latency buckets in seconds: edge models answer in a millisecond to a few seconds. Fixed, so
 * every device's and every replica's series aggregate (histogram_quantile over sum by (le)).
 */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const HUB_HISTOGRAMS: readonly HistogramDef[] = [
  {
    name: 'edgefleet_inference_latency_seconds',
    help: 'Inference latency on the devices, from their telemetry windows, by registered model version and role (active, shadow).',
    bounds: LATENCY_BUCKETS_SECONDS,
  },
];

function labelKey(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatLabels(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  return '{' + keys.map((k) => `${k}="${escapeLabel(labels[k]!)}"`).join(',') + '}';
}

export interface Metrics {
  inc(name: string, labels?: Labels, by?: number): void;
  set(name: string, labels: Labels, value: number): void;
  get(name: string, labels?: Labels): number;
  /** A gauge computed on every scrape. */
  gauge(name: string, help: string, collect: () => Array<{ labels: Labels; value: number }>): void;
  /** A counter a service keeps itself (monotonic since start), read on every scrape. */
  counter(name: string, help: string, collect: () => Array<{ labels: Labels; value: number }>): void;
  /** A gauge read from the database: `refresh()` (each scrape) reads it; render shows the last read. */
  gaugeAsync(name: string, help: string, collect: () => Promise<Array<{ labels: Labels; value: number }>>): void;
  /**
   * Adds observations to a histogram: `counts[k]` fell at or below bound k and above bound k-1, the
   * last entry above every bound; `sum` is their total in the metric's unit.
   */
  observe(name: string, labels: Labels, counts: readonly number[], sum: number): void;
  /** Reads every gaugeAsync once (a failed read keeps its last values). */
  refresh(): Promise<void>;
  render(): string;
}

export function createMetrics(defs: readonly MetricDef[], histogramDefs: readonly HistogramDef[] = HUB_HISTOGRAMS): Metrics {
  const families = new Map<string, Family>();
  const histograms = new Map<string, HistogramFamily>(histogramDefs.map((d) => [d.name, { ...d, series: new Map() }]));
  const readers: Array<() => Promise<void>> = [];
  for (const d of defs) {
    // Prometheus conventions: a series exists from the start, so rate() and absent() see it before the first event
    const zero = d.zero ?? (d.type === 'counter' ? [{}] : []);
    families.set(d.name, { name: d.name, help: d.help, type: d.type, values: new Map(zero.map((labels) => [labelKey(labels), { labels, value: 0 }])) });
  }
  const family = (name: string): Family => {
    const f = families.get(name);
    if (!f) throw new Error(`unknown metric ${name}`);
    return f;
  };
  return {
    inc(name, labels = {}, by = 1) {
      const f = family(name);
      const key = labelKey(labels);
      const entry = f.values.get(key);
      if (entry) entry.value += by;
      else f.values.set(key, { labels, value: by });
    },
    set(name, labels, value) {
      family(name).values.set(labelKey(labels), { labels, value });
    },
    get(name, labels = {}) {
      return family(name).values.get(labelKey(labels))?.value ?? 0;
    },
    gauge(name, help, collect) {
      families.set(name, { name, help, type: 'gauge', values: new Map(), collect });
    },
    counter(name, help, collect) {
      families.set(name, { name, help, type: 'counter', values: new Map(), collect });
    },
    gaugeAsync(name, help, collect) {
      let last: Array<{ labels: Labels; value: number }> = [];
      families.set(name, { name, help, type: 'gauge', values: new Map(), collect: () => last });
      readers.push(async () => {
        last = await collect();
      });
    },
    observe(name, labels, counts, sum) {
      const h = histograms.get(name);
      if (!h) throw new Error(`unknown histogram ${name}`);
      if (counts.length !== h.bounds.length + 1) throw new Error(`${name}: ${counts.length} bucket counts for ${h.bounds.length} bounds + Inf`);
      const key = labelKey(labels);
      let s = h.series.get(key);
      if (!s) h.series.set(key, (s = { labels, counts: new Array<number>(counts.length).fill(0), sum: 0, count: 0 }));
      for (let k = 0; k < counts.length; k++) {
        s.counts[k]! += counts[k]!;
        s.count += counts[k]!;
      }
      s.sum += sum;
    },
    async refresh() {
      await Promise.allSettled(readers.map((r) => r()));
    },
    render() {
      const out: string[] = [];
      for (const f of families.values()) {
        out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
        const samples = f.collect ? f.collect() : [...f.values.values()];
        for (const s of samples) out.push(`${f.name}${formatLabels(s.labels)} ${s.value}`);
      }
      for (const h of histograms.values()) {
        out.push(`# HELP ${h.name} ${h.help}`, `# TYPE ${h.name} histogram`);
        for (const s of h.series.values()) {
          // exposition format: cumulative buckets, ending in le="+Inf" equal to _count
          let cumulative = 0;
          [...h.bounds, Infinity].forEach((bound, k) => {
            cumulative += s.counts[k]!;
            out.push(`${h.name}_bucket${formatLabels({ ...s.labels, le: leOf(bound) })} ${cumulative}`);
          });
          out.push(`${h.name}_sum${formatLabels(s.labels)} ${s.sum}`, `${h.name}_count${formatLabels(s.labels)} ${s.count}`);
        }
      }
      return out.join('\n') + '\n';
    },
  };
}

export const HUB_METRICS: readonly MetricDef[] = [
  { name: 'edgefleet_rejected_messages_total', help: 'Inbound messages dropped, by reason (design §4).', type: 'counter', zero: [] },
  { name: 'edgefleet_telemetry_batches_total', help: 'Telemetry batches committed.', type: 'counter' },
  { name: 'edgefleet_telemetry_windows_total', help: 'Telemetry windows committed.', type: 'counter' },
  { name: 'edgefleet_telemetry_duplicates_total', help: 'Telemetry batches ignored as duplicates of (deviceId, seq).', type: 'counter' },
  { name: 'edgefleet_capture_rows_total', help: 'Captured rows stored, by outcome (stored, duplicate, refused).', type: 'counter' },
  { name: 'edgefleet_capture_labels_total', help: 'Late labels for captured rows, by outcome (joined, unmatched).', type: 'counter' },
  { name: 'edgefleet_capture_dropped_total', help: 'Captured rows devices dropped before sending, by reason (quota, disk, oversized).', type: 'counter' },
  { name: 'edgefleet_telemetry_confirms_total', help: 'telemetry-confirm commands sent (--broker mode, design §4).', type: 'counter' },
  { name: 'edgefleet_telemetry_confirms_dropped_total', help: 'telemetry-confirm commands not sent: too many awaiting the broker (devices re-send).', type: 'counter' },
  { name: 'edgefleet_events_total', help: 'Device events stored.', type: 'counter' },
  { name: 'edgefleet_event_duplicates_total', help: 'Device events ignored as repeats of a stored one (deviceId, at, type, message).', type: 'counter' },
  { name: 'edgefleet_artifact_chunks_sent_total', help: 'Artifact chunk frames published.', type: 'counter' },
  { name: 'edgefleet_artifact_multicast_frames_total', help: 'Artifact chunk frames published once on a multicast topic (design §4).', type: 'counter' },
  { name: 'edgefleet_desired_states_published_total', help: 'Desired states signed and stored (the outbox publishes each, design §8).', type: 'counter' },
  { name: 'edgefleet_rollouts_completed_total', help: 'Gated rollouts this replica completed (the leader runs the engine).', type: 'counter' },
  { name: 'edgefleet_rollout_gate_failures_total', help: 'Waves whose gates failed (each pauses or rolls back its rollout).', type: 'counter' },
  { name: 'edgefleet_rollout_pauses_total', help: 'Rollouts paused: a failed gate with onFail pause, or an operator.', type: 'counter' },
  { name: 'edgefleet_rollout_no_evidence_total', help: 'Waves whose max soak ran out with gates still lacking evidence (the rollout then pauses, passes or fails the wave: onNoEvidence).', type: 'counter' },
  { name: 'edgefleet_rollout_rollbacks_total', help: 'Waves rolled back to the version they replaced.', type: 'counter' },
  { name: 'edgefleet_drift_alarms_total', help: 'Drift alarms raised (one per model version and feature until cleared; once over all replicas).', type: 'counter' },
  { name: 'edgefleet_desired_states_sent_total', help: 'Desired states this replica published to the broker: its outbox while it leads, and republishes.', type: 'counter' },
  { name: 'edgefleet_mqtt_connections_refused_total', help: 'MQTT connections refused, by reason.', type: 'counter', zero: [] },
  { name: 'edgefleet_http_requests_total', help: 'HTTP API requests, by status class.', type: 'counter', zero: ['2xx', '3xx', '4xx', '5xx'].map((status) => ({ status })) },
  { name: 'edgefleet_http_refused_total', help: 'HTTP API requests refused with a client error, by error code.', type: 'counter', zero: [] },
  { name: 'edgefleet_enrolment_redemptions_total', help: 'One-time enrolment code redemptions, by outcome (redeemed, malformed, unknown, used, expired, rate-limited).', type: 'counter', zero: ['redeemed', 'malformed', 'unknown', 'used', 'expired', 'rate-limited'].map((outcome) => ({ outcome })) },
  { name: 'edgefleet_unbacked_claims_total', help: 'Devices reporting a rolled-out version they never fetched and sent no telemetry for (not counted as converged).', type: 'counter', zero: [] },
  { name: 'edgefleet_broker_republish_total', help: 'Times the hub published the keyring and every desired state again after reconnecting to an external broker.', type: 'counter' },
  { name: 'edgefleet_reported_superseded_total', help: 'Reported states not applied because the stored one is newer by the device’s own order (desired sequence, then its clock): replicas took them out of order.', type: 'counter' },
  { name: 'edgefleet_broker_connections_total', help: 'External broker: connections made and lost by this replica (event: connect, close).', type: 'counter', zero: [{ event: 'connect' }, { event: 'close' }] },
  { name: 'edgefleet_mosquitto_reloads_total', help: 'SIGHUPs sent to mosquitto after a credential change, by outcome (ok, failed).', type: 'counter', zero: [{ outcome: 'ok' }, { outcome: 'failed' }] },
];
