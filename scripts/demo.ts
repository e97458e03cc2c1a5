// `npm run demo` (design §2): a hub on a fresh demo data dir, two really trained versions of
// a vibration classifier pushed with validation data, a dozen real agents (own MQTT connections, data dirs,
// local APIs) fed with sensor streams, v1 rolled out, then v2 in gated waves; prints what an operator wants
// to see. Runs until Ctrl-C, or `--duration S`; always stops its hub and agents before exiting.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CaptureRule } from '@edgefleet/protocol';
import { startHub, type Hub } from '@edgefleet/hub';
import { createRetrainService, type RetrainService } from './retrain.js';
import { createSimulatedFleet, type SimulatedFleet } from './sim/fleet.js';
import { trainVibrationModels } from './sim/models.js';
import type { RolloutInfo } from './sim/hub-client.js';
import { describeRolloutChange, healthReport } from './demo/report.js';

const MODEL = 'vibration';
const TERMINAL = new Set(['completed', 'rolled-back', 'aborted', 'superseded', 'paused']);

const { values } = parseArgs({
  options: {
    duration: { type: 'string' },
    data: { type: 'string', default: './edgefleet-demo-data' },
    http: { type: 'string', default: '127.0.0.1:8080' },
    devices: { type: 'string', default: '12' },
    soak: { type: 'string', default: '10' },
    rate: { type: 'string', default: '4' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('usage: npm run demo [-- --duration S] [--data DIR] [--http HOST:PORT] [--devices N] [--soak S] [--rate PER_S]');
  process.exit(0);
}

const duration = values.duration === undefined ? null : Number(values.duration);
if (duration !== null && !(duration > 0)) throw new Error('--duration must be a positive number of seconds');
const soakSeconds = Number(values.soak);
const deviceCount = Math.max(4, Math.floor(Number(values.devices)));
const dataDir = resolve(values.data!);
const t0 = Date.now();
const stamp = () => `[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s]`;
const say = (line: string) => console.log(`${stamp()} ${line}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let hub: Hub | null = null;
let fleet: SimulatedFleet | null = null;
let retrainer: RetrainService | null = null;
let stopping = false;
let stopRequested: () => void = () => undefined;
const stopped = new Promise<void>((r) => (stopRequested = r));
const requestStop = (why: string) => {
  if (stopping) return;
  stopping = true;
  say(why);
  stopRequested();
};
process.on('SIGINT', () => {
  if (stopping) {
    console.error('second Ctrl-C: exiting without cleanup');
    process.exit(130);
  }
  requestStop('Ctrl-C: stopping agents and hub…');
});
process.on('SIGTERM', () => requestStop('SIGTERM: stopping agents and hub…'));
if (duration !== null) setTimeout(() => requestStop(`--duration ${duration} s reached: stopping`), duration * 1000).unref();

/** Sleeps, but wakes early when a stop is requested; false when stopping. */
async function pause(ms: number): Promise<boolean> {
  await Promise.race([sleep(ms), stopped]);
  return !stopping;
}

async function startDemoHub(): Promise<Hub> {
  const attempts: Array<{ http: string; mqtt: string; ws: string }> = [
    { http: values.http!, mqtt: '127.0.0.1:1883', ws: '127.0.0.1:8083' },
    { http: values.http!, mqtt: '127.0.0.1:0', ws: '127.0.0.1:0' },
    { http: '127.0.0.1:0', mqtt: '127.0.0.1:0', ws: '127.0.0.1:0' },
  ];
  let last: unknown;
  for (const a of attempts) {
    try {
      // short telemetry windows and probation so gates judge a 10 s soak and the story fits in minutes; every
      // prediction's inputs captured (the retraining service exports the labelled ones of a drifted site); drift
      // alarms checked every 10 s (not each minute), so the retraining loop starts soon after site b drifts
      const capture = [CaptureRule.parse({ model: MODEL, rate: 1 })];
      return await startHub({ dataDir, ...a, telemetry: { windowSeconds: 5, probationSeconds: 30, capture }, rolloutTickMs: 500, alarms: { intervalMs: 10_000 }, log: (l) => say(`hub: ${l}`) });
    } catch (err) {
      if ((err as { code?: string }).code !== 'EADDRINUSE') throw err;
      last = err;
      say(`(${a.http} / ${a.mqtt} / ${a.ws} partly taken; trying free ports)`);
    }
  }
  throw last;
}

async function watchRollout(r: RolloutInfo, until: (r: RolloutInfo) => boolean): Promise<RolloutInfo> {
  let fp = '';
  let current = r;
  while (!stopping) {
    current = await fleet!.hub.rollout(r.id);
    fp = describeRolloutChange(current, fp, say);
    if (until(current)) break;
    await pause(1000);
  }
  return current;
}

async function run(): Promise<void> {
  say(`edgefleet demo — data dir ${dataDir} (wiped)`);
  if (existsSync(dataDir)) rmSync(dataDir, { recursive: true, force: true });
  hub = await startDemoHub();
  const tokenFile = join(dataDir, 'admin-token');
  // machine-readable: tests and scripts find the hub here (the printed text is for people)
  writeFileSync(join(dataDir, 'demo.json'), JSON.stringify({ pid: process.pid, http: hub.urls.http, mqtt: hub.urls.mqtt, ws: hub.urls.ws, tokenFile, model: MODEL }) + '\n');
  say(`hub up: HTTP API ${hub.urls.http}/api/v1  dashboard ${hub.urls.http}/  metrics ${hub.urls.http}/metrics`);
  say(`        MQTT ${hub.urls.mqtt ?? '–'}  MQTT/WebSocket ${hub.urls.ws ?? '–'}`);
  say(`        admin token in ${tokenFile}   e.g.  curl -H "Authorization: Bearer $(cat ${tokenFile})" ${hub.urls.http}/api/v1/fleet/status`);

  // ---- models: trained for real, pushed with validation data (the hub re-checks accuracy, derives the drift reference)
  say('training the vibration classifier (features: rms, kurtosis, crest factor, peak frequency, band energy, temperature → normal / imbalance / bearing-fault)…');
  const { v1, v2, v21 } = trainVibrationModels();
  for (const m of [v1, v2]) say(`  ${MODEL}@${m.version}: ${m.algorithm} on ${m.trainRows} rows, validation accuracy ${(m.accuracy * 100).toFixed(1)}%, ${m.bytes.length} bytes`);
  const client = (await import('./sim/hub-client.js')).createHubClient(hub.urls.http, hub.adminToken);
  const bad = { ...v21, sha256: createHash('sha256').update(v21.bytes).digest('hex') };
  for (const m of [v1, v2, v21]) {
    const res = await client.pushModel({ name: MODEL, version: m.version, file: m.bytes, validation: m.validation, sample: m.sample, minAccuracy: 0.8, dataset: 'vibration-seed-7', run: `demo-${m.algorithm}` });
    say(`  pushed ${MODEL}@${m.version}: release ${res.release}, sha256 ${res.sha256.slice(0, 16)}…, validated and signed`);
  }
  if (stopping) return;

  // ---- the fleet: two sites; site b's sensors will drift later, site a's operators send labels back
  say(`enrolling ${deviceCount} agents (each: own MQTT connection, data dir, SQLite state, local OIP API)…`);
  fleet = await createSimulatedFleet({
    hub: hub.urls.http,
    token: hub.adminToken,
    devices: deviceCount,
    prefix: 'pump',
    model: MODEL,
    rate: Number(values.rate),
    flushSeconds: 5,
    dataDir: join(dataDir, 'agents'),
    api: true,
    // 2.1.0 is a bad build: on every device 40% of its inferences fail (the simulator injects it)
    device: (i) => ({ tags: { site: i % 2 === 0 ? 'a' : 'b' }, ...(i % 2 === 0 ? { labelFraction: 0.3 } : {}), faults: { errorRate: 0.4, onlyArtifacts: [bad.sha256] } }),
  });
  const first = fleet.devices[0]!;
  say(`  ${fleet.devices.length} agents online: ${fleet.devices.map((d) => d.id).join(', ')}`);
  say(`  each serves Open Inference Protocol locally, e.g. ${first.agent.apiUrl}/v2/models/${MODEL} (POST …/infer)`);
  say('  site a (even devices) returns ground-truth labels for 30% of predictions');

  // ---- v1 everywhere at once
  say(`rolling out ${MODEL}@1.0.0 to all devices (one wave, no soak)`);
  let r = await client.startRollout({ model: MODEL, version: '1.0.0', targets: { all: true }, waves: [100], soak: 0 });
  r = await watchRollout(r, (x) => TERMINAL.has(x.status) || Object.values(fleet!.activeVersions()).every((v) => v === '1.0.0'));
  await fleet.waitForVersion('1.0.0', { timeoutMs: 120_000 });
  say(`  all ${fleet.devices.length} devices run ${MODEL}@1.0.0`);
  if (!(await pause(6000))) return;
  console.log(await healthReport(client, fleet, MODEL, new Set()));

  // ---- v2 in gated waves; both gated rollouts share their options
  const GATED = {
    soak: `${soakSeconds}s`,
    onFail: 'rollback',
    maxSoak: `${2 * soakSeconds}s`,
    onNoEvidence: 'pass',
    gates: { maxP95RegressionPct: 100, minP95RegressionMs: 25, minLabels: 10 },
  } as const;
  // the loop (issue 14 item 5): a retraining service receives the hub's signed webhooks; a drift alarm scoped
  // to a site makes it export that site's captured labelled rows, retrain, push v3 (gated) and roll it out there
  retrainer = await createRetrainService({
    hub: hub.urls.http,
    token: hub.adminToken,
    secret: readFileSync(join(dataDir, 'webhook-secret'), 'utf8').trim(),
    rollout: GATED,
    log: (l) => say(`retrain: ${l}`),
  });
  await client.request('POST', '/api/v1/webhooks', { url: retrainer.url });
  say(`retraining service at ${retrainer.url} (checks each webhook's HMAC; acts on drift alarms scoped to a tag group)`);
  say(`rolling out ${MODEL}@2.0.0 in gated waves 25%, 50%, 100% (soak ${soakSeconds} s each; on a failed gate: roll the wave back)`);
  say('  (p95 latency gate at +100% and +25 ms instead of +50%: 12 agents share one process and this machine\'s cores, so sub-ms latencies are mostly scheduling noise)');
  say(`  (a wave whose gates lack evidence soaks on for it, up to ${2 * soakSeconds} s; labels come back from site a only, so a wave of site-b devices may never judge accuracy: then it passes, its gates still saying no verdict)`);
  r = await client.startRollout({ model: MODEL, version: '2.0.0', targets: { all: true }, waves: [25, 50, 100], ...GATED });
  const seenRollback = new Set<string>();
  const rollbacks = async () => {
    for (const d of await client.devices()) {
      const m = (d.reported as { models?: Record<string, { state?: string; error?: { code: string; message: string } | null }> } | null)?.models?.[MODEL];
      if (m?.state === 'rolled-back' && !seenRollback.has(d.id)) {
        seenRollback.add(d.id);
        say(`  ROLLBACK on ${d.id}: ${m.error?.code ?? ''} ${m.error?.message ?? ''}`);
      }
    }
  };
  r = await watchRollout(r, (x) => {
    void rollbacks().catch(() => undefined);
    return TERMINAL.has(x.status);
  });
  if (stopping) return;
  if (r.status === 'completed') {
    await fleet.waitForVersion('2.0.0', { timeoutMs: 60_000 }).catch((err: Error) => say(`  ${err.message}`));
    say(`  rollout ${r.id} completed: ${Object.values(fleet.activeVersions()).filter((v) => v === '2.0.0').length}/${fleet.devices.length} devices on ${MODEL}@2.0.0`);
  } else say(`  rollout ${r.id} ended ${r.status}`);
  if (!(await pause(4000))) return;
  console.log(await healthReport(client, fleet, MODEL, new Set()));

  // ---- a bad build: 2.1.0 fails 40% of its inferences; the gates (and the agents' probation) stop it in wave 1
  if (!(await pause(2000))) return;
  say(`rolling out ${MODEL}@2.1.0 — a bad build (it fails 40% of inferences on the devices) — in gated waves 25%, 50%, 100%, on a failed gate: roll back`);
  r = await client.startRollout({ model: MODEL, version: '2.1.0', targets: { all: true }, waves: [25, 50, 100], ...GATED });
  r = await watchRollout(r, (x) => {
    void rollbacks().catch(() => undefined);
    return TERMINAL.has(x.status);
  });
  if (stopping) return;
  say(`  rollout ${r.id} ended ${r.status}${r.status === 'rolled-back' ? `: its devices went back to the version before (${MODEL}@2.0.0)` : ''}`);
  await fleet.waitForVersion('2.0.0', { timeoutMs: 30_000 }).catch((err: Error) => say(`  ${err.message}`));
  await rollbacks().catch(() => undefined);
  if (!(await pause(2000))) return;
  console.log(await healthReport(client, fleet, MODEL, new Set()));

  // ---- after the rollouts: site b's sensors drift, one device drops off the network and comes back
  const drifting = fleet.devices.filter((d) => d.spec.tags?.site === 'b').map((d) => d.id);
  say(`site b: sensors on ${drifting.join(', ')} start reading +2σ hot (temperature) and rough (rms) — watch the drift column`);
  say('  site b\'s operators now label every prediction: the drift alarm will send the retraining service to work');
  fleet.setDrift(drifting, { temperature: 2, rms: 2 });
  fleet.setLabelFraction(drifting, 1);
  const leaver = fleet.devices[fleet.devices.length - 1]!.id;
  say(`${leaver} loses its network for 15 s (it keeps its model on disk; the hub marks it offline)`);
  await fleet.stopDevice(leaver);
  setTimeout(() => {
    if (stopping) return;
    void fleet?.startDevice(leaver).then(() => say(`${leaver} is back online (serving ${fleet?.activeVersions()[leaver] ?? '–'} from disk)`));
  }, 15_000).unref();

  const driftSet = new Set(drifting);
  while (await pause(15_000)) {
    await rollbacks().catch(() => undefined);
    say('fleet health:');
    console.log(await healthReport(client, fleet, MODEL, driftSet));
    if (duration === null) say('(Ctrl-C to stop)');
  }
}

async function shutdown(code: number): Promise<never> {
  const f = fleet;
  const h = hub;
  const s = retrainer;
  fleet = null;
  hub = null;
  retrainer = null;
  try {
    await s?.close();
  } catch (err) {
    console.error(`stopping the retraining service: ${String(err)}`);
  }
  try {
    await f?.close();
  } catch (err) {
    console.error(`stopping agents: ${String(err)}`);
    code = code || 1;
  }
  try {
    await h?.close();
  } catch (err) {
    console.error(`stopping hub: ${String(err)}`);
    code = code || 1;
  }
  say(`demo stopped; the data stays in ${dataDir} (wiped on the next run)`);
  process.exit(code);
}

try {
  const running = run();
  running.catch(() => undefined); // a failure after a stop request is expected noise (the hub is going away)
  await Promise.race([running, stopped]);
  if (!stopping) {
    // the story is told; keep serving (the dashboard stays up) until Ctrl-C or --duration
    await stopped;
  }
  // let the story notice the stop (it checks between steps) before the hub goes away under it
  await Promise.race([running.catch(() => undefined), sleep(3000)]);
  await shutdown(0);
} catch (err) {
  console.error(`demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  await shutdown(1);
}
