import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));

// One suite for every workspace. Tests import workspace packages from source, so `npm test`
// never runs against a stale build; bins and child processes use the built `dist/`.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@edgefleet\/protocol$/, replacement: src('./protocol/src/index.ts') },
      { find: /^@edgefleet\/protocol\/onnx$/, replacement: src('./protocol/src/onnx/index.ts') },
      { find: /^@edgefleet\/protocol\/testing$/, replacement: src('./protocol/src/testing/index.ts') },
      { find: /^@edgefleet\/agent\/core$/, replacement: src('./agent/src/core/index.ts') },
      { find: /^@edgefleet\/agent\/mqtt$/, replacement: src('./agent/src/mqtt/index.ts') },
      { find: /^@edgefleet\/agent\/testing$/, replacement: src('./agent/src/testing/index.ts') },
      { find: /^@edgefleet\/agent$/, replacement: src('./agent/src/index.ts') },
      { find: /^@edgefleet\/hub$/, replacement: src('./hub/src/index.ts') },
      { find: /^@edgefleet\/web-runtime$/, replacement: src('./web-runtime/src/index.ts') },
    ],
  },
  test: {
    // bundles the dashboard's browser client before any test, so the hub under test serves it as it is now
    globalSetup: ['./hub/scripts/build-dashboard.mjs'],
    include: ['{protocol,agent,hub,web-runtime}/{src,test}/**/*.test.ts', 'scripts/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    // tests load onnxruntime-node directly too (bare baselines): no usage telemetry from them either
    env: { ORT_DISABLE_TELEMETRY: '1' },
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
