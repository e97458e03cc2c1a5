// Captured rows of one new telemetry batch (design §4 capture) into store inserts: each row checked against the
// per-row byte bound (a longer one is refused alone, TOO_LARGE, and counted), stored under the batch's own
// device (the topic's: a device cannot write another's rows), late labels joined to that device's rows only.

import { CAPTURE_LIMITS, type TelemetryBatch } from '@edgefleet/protocol';
import type { HubContext } from '../context.js';
import type { CaptureInsert, CaptureLabelUpdate } from '../store/captures.js';

export function captureParts(ctx: HubContext, deviceId: string, batch: TelemetryBatch, receivedAt: number, rows: CaptureInsert[], labels: CaptureLabelUpdate[]): void {
  const d = batch.capturesDropped;
  if (d) for (const reason of ['quota', 'disk', 'oversized'] as const) if (d[reason] > 0) ctx.metrics.inc('edgefleet_capture_dropped_total', { reason }, d[reason]);
  for (const c of batch.captures ?? []) {
    const json = JSON.stringify(c);
    const bytes = Buffer.byteLength(json);
    if (bytes > CAPTURE_LIMITS.rowBytes) {
      ctx.reject('capture', 'TOO_LARGE');
      ctx.metrics.inc('edgefleet_capture_rows_total', { outcome: 'refused' });
      continue;
    }
    if (c.kind === 'label') {
      labels.push({ deviceId, model: c.model, predictionId: c.id, label: JSON.stringify(c.label), at: c.at });
      continue;
    }
    rows.push({
      deviceId,
      model: c.model,
      version: c.version,
      predictionId: c.id,
      at: c.at,
      receivedAt,
      trigger: c.trigger,
      features: JSON.stringify(c.features),
      prediction: c.prediction === null ? null : JSON.stringify(c.prediction),
      confidence: c.confidence,
      label: c.label === undefined ? null : JSON.stringify(c.label),
      bytes,
    });
  }
}
