/**
 * `npm run bench:soak`: sustained load on one engine for minutes, to see whether a rate holds. A
 * producer process adds single jobs open loop, a worker process runs them (concurrency 20, 1 ms
 * handlers); every 10 s the soak prints and keeps what each side did, the backlog, the time of
 * `counts()`, the worker's memory and the store's size; at the end it lets the worker drain, checks
 * that every added job is in the store, and writes bench/results/soak-<engine>-<time>.json.
 * PostgreSQL and Redis run on private servers started here (see servers.ts).
 */
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createSundial, type JobState, type Sundial } from '../../src/index.ts';
import { describeMachine, measureBusy } from '../machine.ts';
import { openStore, type StoreSpec } from '../stores.ts';
import { parseSoakArgs, type SoakArgs, USAGE } from './args.ts';
import { killSoakChildren, SoakChild } from './child.ts';
import { formatMb, postgresProbe, redisProbe, type StoreProbe, sqliteProbe } from './probes.ts';
import { SOAK_QUEUE } from './protocol.ts';
import { type PrivateServer, startPostgres, startRedis } from './servers.ts';
import { renderSummary, type SoakWindow, summarise } from './summary.ts';

const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));
const WINDOW_MS = 10_000;
const CONCURRENCY = 20;
const HANDLER_MS = 1;
/** How long the worker may take to drain the backlog after the producer stops. */
const DRAIN_LIMIT_MS = 300_000;
/** `--max`: how often the producer's rate is set, and how soon a backlog error is made up. */
const STEER_MS = 500;
const CORRECTION_SECONDS = 2;
/**
 * The soak ends early when the temp folder's disk has less than this free: a store that grows
 * without bound (a WAL never rewound, a bloating table) must not fill a machine others share.
 */
const MIN_FREE_BYTES = 4 * 1024 ** 3;

function freeDiskBytes(): number {
  const stats = statfsSync(tmpdir());
  return stats.bavail * stats.bsize;
}

/** What must go at the end however the soak ends: the children, the server, the temp folder. */
const cleanups: (() => void)[] = [];
function cleanUp(): void {
  killSoakChildren();
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      cleanup();
    } catch (error) {
      console.error('clean-up:', error);
    }
  }
}
process.on('exit', cleanUp);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    cleanUp();
    process.exit(130);
  });
}

interface Setup {
  spec: StoreSpec;
  server: PrivateServer | null;
  probe: StoreProbe;
}

async function setUp(args: SoakArgs): Promise<Setup> {
  switch (args.engine) {
    case 'sqlite': {
      const dir = mkdtempSync(join(tmpdir(), 'sundial-soak-'));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const spec = { kind: 'sqlite', path: join(dir, 'sundial.db') } as const;
      return { spec, server: null, probe: sqliteProbe(spec) };
    }
    case 'postgres': {
      const server = await startPostgres(args.autovacuum, args.pgSettings);
      cleanups.push(() => server.stop());
      const spec = {
        kind: 'postgres',
        url: server.url,
        schema: 'soak',
        ...(args.maintenanceVacuum ? { maintenanceVacuumMs: Math.round(args.maintenanceVacuum * 1000) } : {}),
      } as const;
      return { spec, server, probe: postgresProbe(spec, () => server.pid()) };
    }
    case 'redis': {
      const server = await startRedis();
      cleanups.push(() => server.stop());
      return {
        spec: { kind: 'redis', url: server.url, prefix: 'soak' },
        server,
        probe: redisProbe(server.url),
      };
    }
  }
}

/** The machine's CPU times, to tell how busy it was over a window (others' work included). */
function machineTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const { times } of cpus()) {
    const sum = times.user + times.nice + times.sys + times.irq + times.idle;
    total += sum;
    busy += sum - times.idle;
  }
  return { busy, total };
}

async function timedCounts(sundial: Sundial): Promise<{ counts: Record<JobState, number>; ms: number }> {
  const started = performance.now();
  const counts = await sundial.queue(SOAK_QUEUE).counts();
  return { counts, ms: performance.now() - started };
}

/**
 * `--max`: every STEER_MS the producer's rate becomes the worker's drain rate over the last 2 s
 * plus what brings the backlog (jobs the producer was told to add, less those completed) back to
 * the target within CORRECTION_SECONDS. The producer then adds as fast as the worker drains. The
 * worker's count arrives every 100 ms, so it is carried forward at the drain rate to now.
 */
function steer(
  producer: SoakChild,
  worker: SoakChild,
  args: SoakArgs,
  onRate: (rate: number) => void,
): () => void {
  let rate = args.rate;
  let asked = 0;
  let last = performance.now();
  let completed = 0;
  let heardAt = last;
  const history: { at: number; completed: number }[] = [];
  worker.onProgress = (count) => {
    completed = count;
    heardAt = performance.now();
    history.push({ at: heardAt, completed });
    while (history.length > 1 && history[0]!.at < heardAt - 2_000) history.shift();
  };
  const timer = setInterval(() => {
    const now = performance.now();
    asked += (rate * (now - last)) / 1000;
    last = now;
    const first = history[0];
    const drain =
      first && heardAt > first.at ? ((completed - first.completed) * 1000) / (heardAt - first.at) : 0;
    const backlog = asked - (completed + (drain * (now - heardAt)) / 1000);
    rate = Math.min(100_000, Math.max(0, drain + (args.backlog - backlog) / CORRECTION_SECONDS));
    onRate(rate);
    try {
      producer.send({ type: 'rate', perSecond: rate });
    } catch {
      // The producer is gone: the soak's next sample reports it.
    }
  }, STEER_MS);
  return () => clearInterval(timer);
}

function formatWindow(window: SoakWindow, storeLine: string): string {
  const n = (value: number) => Math.round(value).toLocaleString('en');
  const add = window.add ? `add p99 ${window.add.p99.toFixed(1)} ms` : 'add p99 -';
  return [
    `${String(Math.round(window.t)).padStart(5)} s  rate ${n(window.rate)}  added ${n(window.addedPerSecond)}/s  ` +
      `completed ${n(window.completedPerSecond)}/s  waiting ${n(window.waiting)}  ${add}` +
      `${window.addsInFlight > 0 ? ` (${n(window.addsInFlight)} in flight)` : ''}  counts() ${window.countsMs.toFixed(1)} ms  ` +
      `worker ${formatMb(window.workerRssBytes)} CPU ${Math.round(window.workerCpu * 100)}%  ` +
      `producer CPU ${Math.round(window.producerCpu * 100)}%  machine ${Math.round(window.machineBusy * 100)}%` +
      `${window.addsFailed > 0 ? `  ADD FAILURES ${window.addsFailed}` : ''}`,
    `         ${storeLine}`,
  ].join('\n');
}

async function main(): Promise<number> {
  let args: SoakArgs;
  try {
    args = parseSoakArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const busyBefore = await measureBusy();
  const startedAt = new Date();
  const { spec, server, probe } = await setUp(args);
  const sundial = createSundial({ store: openStore(spec) });
  await sundial.init();
  const worker = await SoakChild.start({
    role: 'worker',
    store: spec,
    concurrency: CONCURRENCY,
    handlerMs: HANDLER_MS,
  });
  const producer = await SoakChild.start({ role: 'producer', store: spec, rate: args.rate });
  if (server) console.log(`Private server at ${server.url}`);
  console.log(
    `Soak: ${args.engine}${
      server
        ? ` (${Object.entries(server.settings)
            .map(([k, v]) => `${k}=${v || "''"}`)
            .join(', ')})`
        : ''
    }${args.maintenanceVacuum ? `, Sundial's maintenance vacuum every ${args.maintenanceVacuum} s` : ''}, ` +
      `${args.minutes} min, ${args.max ? `the sustainable maximum (backlog held at ${args.backlog})` : `${args.rate} jobs/s`}, ` +
      `1 producer, 1 worker at concurrency ${CONCURRENCY} with ${HANDLER_MS} ms handlers`,
  );
  await probe.sample(1); // the counters' baselines

  let rate = args.rate;
  const windows: SoakWindow[] = [];
  const started = performance.now();
  worker.send({ type: 'start' });
  producer.send({ type: 'start' });
  let rateSum = 0;
  let rateSamples = 0;
  const stopSteering = args.max
    ? steer(producer, worker, args, (next) => {
        rate = next;
        rateSum += next;
        rateSamples++;
      })
    : () => {};

  let previous = { at: started, added: 0, completed: 0, machine: machineTimes() };
  const end = started + args.minutes * 60_000;
  let endedEarly: string | null = null;
  for (let k = 1; ; k++) {
    const due = started + k * WINDOW_MS;
    if (due > end + 1) break;
    await sleep(Math.max(0, due - performance.now()));
    const p = await producer.ask({ type: 'sample' }, 'sample', 60_000);
    const w = await worker.ask({ type: 'sample' }, 'sample', 60_000);
    if (p.role !== 'producer' || w.role !== 'worker') throw new Error('a sample came from the wrong process');
    const at = performance.now();
    const machine = machineTimes();
    const seconds = (at - previous.at) / 1000;
    const { counts, ms } = await timedCounts(sundial);
    const store = await probe.sample(seconds);
    const window: SoakWindow = {
      t: (at - started) / 1000,
      seconds,
      rate: args.max ? (rateSamples > 0 ? rateSum / rateSamples : rate) : args.rate,
      addedPerSecond: (p.added - previous.added) / seconds,
      completedPerSecond: (w.completed - previous.completed) / seconds,
      waiting: counts.waiting,
      active: counts.active,
      countsMs: ms,
      add: p.latency,
      addsInFlight: p.inFlight,
      addsFailed: p.failed,
      producerMaxGapMs: p.maxGapMs,
      producerCpu: p.cpuMs / 1000 / seconds,
      producerRssBytes: p.rssBytes,
      workerCpu: w.cpuMs / 1000 / seconds,
      workerRssBytes: w.rssBytes,
      workerHeapBytes: w.heapUsedBytes,
      workerStoreErrors: w.storeErrors,
      machineBusy:
        machine.total > previous.machine.total
          ? (machine.busy - previous.machine.busy) / (machine.total - previous.machine.total)
          : 0,
      storeBytes: store.bytes,
      store: store.figures,
    };
    rateSum = 0;
    rateSamples = 0;
    windows.push(window);
    console.log(formatWindow(window, store.line));
    if (w.lastError) console.log(`         worker store error: ${w.lastError}`);
    if (p.lastError) console.log(`         producer add error: ${p.lastError}`);
    previous = { at, added: p.added, completed: w.completed, machine };
    if (freeDiskBytes() < MIN_FREE_BYTES) {
      endedEarly = `less than ${formatMb(MIN_FREE_BYTES)} free on the disk after ${Math.round(window.t)} s`;
      console.log(`Ending the soak early: ${endedEarly}`);
      break;
    }
  }
  stopSteering();

  // Nothing may be lost: stop adding, let the worker finish the backlog, then every added job must
  // be in the store, and completed.
  const stopped = await producer.ask({ type: 'stop' }, 'stopped', 180_000);
  const drainStarted = performance.now();
  let final = await timedCounts(sundial);
  const unfinished = (counts: Record<JobState, number>) =>
    counts.waiting + counts.active + counts.delayed + counts.failed;
  while (unfinished(final.counts) > 0 && performance.now() - drainStarted < DRAIN_LIMIT_MS) {
    await sleep(2_000);
    final = await timedCounts(sundial);
  }
  const drainSeconds = (performance.now() - drainStarted) / 1000;
  const workerEnd = await worker.ask({ type: 'sample' }, 'sample', 60_000);
  const stored = Object.values(final.counts).reduce((sum, n) => sum + n, 0);
  const check = {
    issued: stopped.issued,
    added: stopped.added,
    addsFailed: stopped.failed,
    lastAddError: stopped.lastError,
    storedJobs: stored,
    counts: final.counts,
    completedSeenByWorker: workerEnd.role === 'worker' ? workerEnd.completed : null,
    drained: unfinished(final.counts) === 0,
    drainSeconds,
    // Failed adds may or may not have been stored: only more jobs than added is not a loss.
    missing: Math.max(0, stopped.added - stored),
  };
  const endOfRun = await probe.final();
  worker.send({ type: 'stop' });
  await worker.stop(15_000);
  await producer.stop(5_000);
  await sundial.close();
  await probe.close();

  const summary = summarise(windows, args.warmup);
  console.log(`\n${renderSummary(summary)}`);
  console.log(
    `  check        ${check.added.toLocaleString('en')} added (${check.addsFailed} failed), ` +
      `${check.storedJobs.toLocaleString('en')} in the store, ${check.counts.completed.toLocaleString('en')} completed, ` +
      `${check.drained ? `drained in ${drainSeconds.toFixed(0)} s` : `NOT drained after ${drainSeconds.toFixed(0)} s`}, ` +
      `${check.missing === 0 ? 'none missing' : `${check.missing} MISSING`}`,
  );
  if (Array.isArray(endOfRun.statements)) {
    console.log('\nServer time by statement (pg_stat_statements):');
    for (const row of endOfRun.statements.slice(0, 6) as Record<string, unknown>[]) {
      console.log(
        `  ${String(row.total_ms).padStart(10)} ms  ${String(row.calls).padStart(8)} calls  ${String(row.mean_ms).padStart(8)} ms/call  ` +
          `${String(row.blocks_per_call).padStart(7)} blocks/call  ${String(row.query).slice(0, 90)}`,
      );
    }
  }
  const file = join(RESULTS_DIR, `soak-${args.engine}-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        kind: 'soak',
        startedAt,
        args,
        machine: describeMachine(busyBefore),
        server: server?.settings ?? null,
        workload: { concurrency: CONCURRENCY, handlerMs: HANDLER_MS, windowSeconds: WINDOW_MS / 1000 },
        endedEarly,
        summary,
        check,
        endOfRun,
        windows,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`\nResults written to ${file}`);
  return check.missing === 0 && check.drained ? 0 : 1;
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error(error);
  process.exitCode = 1;
}
cleanUp();
