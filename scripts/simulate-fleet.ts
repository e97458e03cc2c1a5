// `tsx scripts/simulate-fleet.ts --hub URL --token T --devices N [...]`: N real agents in
// this process against a running hub, fed with vibration streams; prints a status line every few seconds.

import { parseArgs } from 'node:util';
import { createSimulatedFleet, type DeviceFaults } from './sim/fleet.js';

const USAGE = `usage: tsx scripts/simulate-fleet.ts --hub URL --token T --devices N
  [--prefix sim] [--model vibration] [--rate PER_S] [--drift-fraction F] [--drift-shift SIGMA]
  [--label-fraction F] [--flush S] [--churn EVERY_S:OFFLINE_S] [--slow-fraction F --slow-ms MS]
  [--error-fraction F --error-rate R] [--broken-download-fraction F] [--api] [--duration S] [--data DIR] [--seed N]
  token: --token, else EDGEFLEET_TOKEN, else ./edgefleet-data/admin-token`;

function num(v: string | undefined, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number, got ${v}`);
  return n;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      hub: { type: 'string', default: process.env.EDGEFLEET_HUB ?? 'http://127.0.0.1:8080' },
      token: { type: 'string' },
      devices: { type: 'string', default: '10' },
      prefix: { type: 'string', default: 'sim' },
      model: { type: 'string', default: 'vibration' },
      rate: { type: 'string' },
      'drift-fraction': { type: 'string' },
      'drift-shift': { type: 'string' },
      'label-fraction': { type: 'string' },
      flush: { type: 'string' },
      churn: { type: 'string' },
      'slow-fraction': { type: 'string' },
      'slow-ms': { type: 'string' },
      'error-fraction': { type: 'string' },
      'error-rate': { type: 'string' },
      'broken-download-fraction': { type: 'string' },
      api: { type: 'boolean', default: false },
      duration: { type: 'string' },
      data: { type: 'string' },
      seed: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  let token = values.token ?? process.env.EDGEFLEET_TOKEN;
  if (!token) {
    const { readFileSync, existsSync } = await import('node:fs');
    if (existsSync('./edgefleet-data/admin-token')) token = readFileSync('./edgefleet-data/admin-token', 'utf8').trim();
  }
  if (!token) {
    console.error(`simulate-fleet: no token\n${USAGE}`);
    return 2;
  }
  const n = Math.floor(num(values.devices, 'devices', 10));
  const slow = num(values['slow-fraction'], 'slow-fraction', 0);
  const errs = num(values['error-fraction'], 'error-fraction', 0);
  const broken = num(values['broken-download-fraction'], 'broken-download-fraction', 0);
  // faulty devices are the last ones: broken downloads, then erroring, then slow
  const nBroken = Math.round(broken * n);
  const nErr = Math.round(errs * n);
  const nSlow = Math.round(slow * n);
  const faultsOf = (i: number): DeviceFaults | undefined => {
    const k = n - 1 - i;
    if (k < nBroken) return { brokenDownload: true };
    if (k < nBroken + nErr) return { errorRate: num(values['error-rate'], 'error-rate', 0.5) };
    if (k < nBroken + nErr + nSlow) return { slowMs: num(values['slow-ms'], 'slow-ms', 50) };
    return undefined;
  };
  let churn: { everyMs: number; offlineMs: number } | undefined;
  if (values.churn) {
    const [every, off] = values.churn.split(':').map(Number);
    if (!(every! > 0) || !(off! > 0)) throw new Error('--churn wants EVERY_S:OFFLINE_S, e.g. 10:30');
    churn = { everyMs: every! * 1000, offlineMs: off! * 1000 };
  }
  const t0 = Date.now();
  const fleet = await createSimulatedFleet({
    hub: values.hub!,
    token,
    devices: n,
    prefix: values.prefix!,
    model: values.model!,
    rate: num(values.rate, 'rate', 1),
    driftFraction: num(values['drift-fraction'], 'drift-fraction', 0),
    ...(values['drift-shift'] ? { driftShift: num(values['drift-shift'], 'drift-shift', 1.5) } : {}),
    labelFraction: num(values['label-fraction'], 'label-fraction', 0),
    ...(values.flush ? { flushSeconds: num(values.flush, 'flush', 10) } : {}),
    ...(churn ? { churn } : {}),
    ...(values.data ? { dataDir: values.data } : {}),
    seed: Math.floor(num(values.seed, 'seed', 1)),
    api: values.api!,
    device: (i) => {
      const f = faultsOf(i);
      return f ? { faults: f, tags: { sim: 'faulty' } } : { tags: { sim: 'healthy' } };
    },
    log: (l) => console.log(l),
  });
  console.log(`simulate-fleet: ${n} agents enrolled at ${values.hub} in ${((Date.now() - t0) / 1000).toFixed(1)} s; Ctrl-C stops`);

  let stopping = false;
  const done = new Promise<void>((resolve) => {
    const stop = () => {
      if (stopping) return;
      stopping = true;
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (values.duration) setTimeout(stop, num(values.duration, 'duration', 60) * 1000).unref();
  });
  const status = setInterval(() => {
    const versions: Record<string, number> = {};
    for (const v of Object.values(fleet.activeVersions())) versions[v ?? 'none'] = (versions[v ?? 'none'] ?? 0) + 1;
    const t = fleet.totals();
    const online = fleet.devices.filter((d) => d.online).length;
    console.log(
      `[${((Date.now() - t0) / 1000).toFixed(0)} s] online ${online}/${n}  ${values.model}: ${Object.entries(versions).map(([v, c]) => `${v}×${c}`).join(' ')}  inferences ${t.inferences} errors ${t.errors} labels ${t.labels} not-serving ${t.notServing}`,
    );
  }, 5000);
  await done;
  clearInterval(status);
  console.log('simulate-fleet: stopping agents');
  await fleet.close();
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`simulate-fleet: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
