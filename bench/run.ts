/**
 * `npm run bench`: runs each workload on a fresh SQLite file `--runs` times (default 3), prints a
 * table of medians against the targets and BullMQ's figures, and writes everything to
 * bench/results/<timestamp>.json.
 */
import { fileURLToPath } from 'node:url';
import { type BenchArgs, parseBenchArgs, USAGE } from './args.ts';
import { killAllChildren } from './child.ts';
import { removeTempDirs } from './fixtures.ts';
import { describeMachine, measureBusy } from './machine.ts';
import { formatValue, renderTable, summarise, type WorkloadResult, writeJson } from './report.ts';
import { type Sample, type Workload, workloads } from './workloads/index.ts';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

/** Above this share of CPU busy before we start, something else is running and figures will be low. */
const BUSY_WARNING = 0.1;

// However the bench ends (an error, Ctrl-C, a kill), no worker process may outlive it; the children
// go first because they hold the database files open.
process.on('exit', () => {
  killAllChildren();
  removeTempDirs();
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killAllChildren();
    process.exit(130);
  });
}

async function runWorkload(workload: Workload, args: BenchArgs): Promise<WorkloadResult> {
  let warmup: Sample | null = null;
  const runs: Sample[] = [];
  const total = args.runs;
  try {
    if (workload.warmup && args.warmup) {
      warmup = await workload.run();
      console.error(`${workload.id} warm-up: ${formatValue(warmup.value, workload.unit)} ${workload.unit}`);
    }
    for (let run = 1; run <= total; run++) {
      const sample = await workload.run();
      runs.push(sample);
      console.error(
        `${workload.id} run ${run}/${total}: ${formatValue(sample.value, workload.unit)} ${workload.unit}`,
      );
    }
  } catch (error) {
    // The other workloads still run: one broken workload should not hide the others' figures.
    console.error(`${workload.id} failed:`, error);
    const message = error instanceof Error ? error.message : String(error);
    return summarise(workload, { warmup, runs, error: message });
  }
  return summarise(workload, { warmup, runs, error: null });
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
  const selected = workloads.filter((workload) => args.only.length === 0 || args.only.includes(workload.id));

  const startedAt = new Date();
  const busy = await measureBusy();
  if (busy > BUSY_WARNING) {
    console.error(
      `Warning: the CPUs were ${Math.round(busy * 100)} % busy before the bench started; ` +
        'another process is competing and the figures will be lower than this machine can do.',
    );
  }

  const results: WorkloadResult[] = [];
  for (const workload of selected) results.push(await runWorkload(workload, args));

  console.log(`\n${renderTable(results)}`);
  const file = writeJson(
    RESULTS_DIR,
    { startedAt, runsPerWorkload: args.runs, machine: describeMachine(busy) },
    results,
  );
  console.log(`\nResults written to ${file}`);
  return results.some((result) => result.error) ? 1 : 0;
}

process.exitCode = await main();
