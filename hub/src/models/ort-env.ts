// Imported for its side effect before onnxruntime-node (ESM evaluates imports in order): onnxruntime
// 1.30 on Linux otherwise opens ~/.cache/Microsoft/DeveloperTools/.onnxruntime/onnxruntime.db, writes
// /tmp/mat-debug-*.log and looks up mobile.events.data.microsoft.com to upload usage telemetry (seen with
// strace). Neither a device agent nor the hub phones home; ORT_DISABLE_TELEMETRY=0 set by the operator still wins.
process.env.ORT_DISABLE_TELEMETRY ??= '1';
export {};
