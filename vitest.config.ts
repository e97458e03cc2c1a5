import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/** Hub tests that run a second time on PostgreSQL (the `postgres` project). */
const POSTGRES_SUITE = [
  'access-control', 'api', 'artifact-multicast', 'artifacts', 'capture-policy', 'captures', 'commands', 'dashboard', 'dashboard-groups', 'dashboard-scale', 'desired-states',
  'device-page', 'e2e-embedded', 'e2e-mosquitto', 'enrolment', 'health-merge', 'report-order', 'restart', 'rollout-claims',
  'rollouts-api', 'rollouts-gated', 'webhooks',
];

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
    exclude: ['**/node_modules/**', '**/dist/**'],
    // tests load onnxruntime-node directly too (bare baselines): no usage telemetry from them either
    env: { ORT_DISABLE_TELEMETRY: '1' },
    projects: [
      { extends: true, test: { name: 'sqlite', include: ['{protocol,agent,hub,web-runtime}/{src,test}/**/*.test.ts', 'scripts/**/*.test.ts'] } },
      // the hub's end-to-end behaviour again with its state on PostgreSQL (hub/test/support/test-db.ts): the
      // tests whose hubs start through startTestHub/testDb and read what they stored through the API. The
      // store contract runs on both engines in the sqlite project (sql-sqlite, sql-postgres).
      {
        extends: true,
        test: {
          name: 'postgres',
          include: POSTGRES_SUITE.map((f) => `hub/test/${f}.test.ts`),
          env: { ORT_DISABLE_TELEMETRY: '1', EDGEFLEET_TEST_DB: 'postgres' },
        },
      },
    ],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
