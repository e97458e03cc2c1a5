// V8 heap shape for the `edgefleet-agent` process (bench/README "agent.rss_mb"). Imported first by the
// bin only — never by the library, tests or an app embedding the agent — before the agent's modules load.
//
// V8 grows the young generation from 1 MB up to 16 MB per semi-space whenever a scavenge sees many
// survivors. Module loading, a model install and bursts of local API requests all do that, and the
// grown semi-spaces stay committed until the memory reducer notices the process went quiet. A growth
// factor of 1 keeps them at their initial 1 MB: more frequent, smaller scavenges (each copies only the
// live young objects). Measured on the bin: idle 112-113 → 107-110 MB; after 4,500 local-API infer
// requests 121-141 → 112-118 MB, with the same request latency within noise (339-408 vs 390-424 µs).
// The growth factor is read each time V8 would grow the young generation, so setting it at run time
// works; the size limits (--max-semi-space-size) are fixed when the heap is created and cannot be.
import v8 from 'node:v8';

v8.setFlagsFromString('--semi-space-growth-factor=1');
