/**
 * `npm run bench`: runs each workload on a fresh namespace of the chosen store (`--store`, default a
 * temp SQLite file) `--runs` times (default 3), prints a table of medians against the targets and
 * BullMQ's figures, and writes everything to bench/results/<timestamp>.json.
 */
import { fileURLToPath } from 'node:url';
import { type BenchArgs, parseBenchArgs, USAGE } from './args.ts';
import { killAllChildren } from './child.ts';
import { describeMachine, measureBusy } from './machine.ts';
import { formatValue, renderTable, summarise, type WorkloadResult, writeJson } from './report.ts';
import {
  describeServer,
  dropLiveNamespaces,
  removeTempDirs,
  type StoreKind,
  sweepLeftovers,
} from './stores.ts';
import { type Sample, type Workload, workloads } from './workloads/index.ts';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

/** Above this share of CPU busy before we start, something else is running and figures will be low. */
const BUSY_WARNING = 0.1;

// However the bench ends (an error, Ctrl-C, a kill), no worker process may outlive it; the children
// go first because they hold the database files and connections open.
process.on('exit', () => {
  killAllChildren();
  removeTempDirs();
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killAllChildren();
    // The schemas and keys of the run under way; what this misses, the next bench sweeps.
    void dropLiveNamespaces(3_000).finally(() => process.exit(130));
  });
}

async function runWorkload(workload: Workload, store: StoreKind, args: BenchArgs): Promise<WorkloadResult> {
  let warmup: Sample | null = null;
  const runs: Sample[] = [];
  const total = args.runs;
  try {
    if (workload.warmup && args.warmup) {
      warmup = await workload.run(store);
      console.error(`${workload.id} warm-up: ${formatValue(warmup.value, workload.unit)} ${workload.unit}`);
    }
    for (let run = 1; run <= total; run++) {
      const sample = await workload.run(store);
      runs.push(sample);
      console.error(
        `${workload.id} run ${run}/${total}: ${formatValue(sample.value, workload.unit)} ${workload.unit}`,
      );
    }
  } catch (error) {
    // The other workloads still run: one broken workload should not hide the others' figures.
    console.error(`${workload.id} failed:`, error);
    const message = error instanceof Error ? error.message : String(error);
    return summarise(workload, store, { warmup, runs, error: message });
  }
  return summarise(workload, store, { warmup, runs, error: null });
}

async function main(): Promise<number> {
  let args: BenchArgs;
  try {
    args = parseBenchArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const known = workloads.map((workload) => workload.id);
  const unknown = args.only.filter((id) => !known.includes(id));
  if (unknown.length > 0) {
    console.error(`Unknown workload ${unknown.join(', ')}; known: ${known.join(', ')}`);
    return 2;
  }
  const store = args.store;
  const wanted = workloads.filter((workload) => args.only.length === 0 || args.only.includes(workload.id));
  const selected = wanted.filter((workload) => !workload.stores || workload.stores.includes(store));
  for (const workload of wanted.filter((w) => !selected.includes(w))) {
    console.error(`${workload.id} skipped: it runs on ${workload.stores?.join(', ')} only`);
  }

  // A server that is not there ends the bench before any run.
  let server: Record<string, string> | null = null;
  try {
    if (store !== 'sqlite') {
      server = await describeServer(store);
      const swept = await sweepLeftovers(store);
      if (swept > 0) console.error(`Removed ${swept} namespace(s) left by earlier benches that were killed.`);
    }
  } catch (error) {
    console.error(`--store ${store}: ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  }

  const startedAt = new Date();
  const busy = await measureBusy();
  if (busy > BUSY_WARNING) {
    console.error(
      `Warning: the CPUs were ${Math.round(busy * 100)} % busy before the bench started; ` +
        'another process is competing and the figures will be lower than this machine can do.',
    );
  }

  const results: WorkloadResult[] = [];
  for (const workload of selected) results.push(await runWorkload(workload, store, args));

  const serverLine = server
    ? `Store: ${store}, ${Object.entries(server)
        .filter(([key]) => key !== 'url')
        .map(([key, value]) => `${key}=${value}`)
        .join(', ')}; a fresh ${store === 'postgres' ? 'schema' : 'key prefix'} per run`
    : 'Store: sqlite, a fresh temp file per run';
  console.log(`\n${serverLine}\n`);
  console.log(renderTable(results));
  const file = writeJson(
    RESULTS_DIR,
    { startedAt, runsPerWorkload: args.runs, machine: describeMachine(busy), store, server },
    results,
  );
  console.log(`\nResults written to ${file}`);
  return results.some((result) => result.error) ? 1 : 0;
}

process.exitCode = await main();
