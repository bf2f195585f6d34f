import { createInterface } from 'node:readline/promises';
import cliProgress from 'cli-progress';
import { type DryRun, type OperationInfo, type Sundial, SundialError } from '../index.ts';

/**
 * Follows a bulk operation to its end: a progress bar on a terminal, plain lines otherwise (a log,
 * a pipe), both on stderr so that stdout holds only the result.
 */
export async function follow(
  sundial: Sundial,
  started: OperationInfo,
  label: string,
): Promise<OperationInfo> {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {value}/{total} ({percentage}%) {eta_formatted} left`,
        stream: process.stderr,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(started.total, 0);
    const done = await sundial.admin.operations.wait(started.id, (step) => bar.update(step.processed));
    bar.update(done.processed);
    bar.stop();
    return done;
  }
  let shownAt = performance.now();
  const done = await sundial.admin.operations.wait(started.id, (step) => {
    if (performance.now() - shownAt < 1000) return;
    shownAt = performance.now();
    console.error(`${label}: ${step.processed} of ${started.totalExact ? '' : 'at least '}${started.total}`);
  });
  console.error(`${label}: ${done.processed} of ${done.processed} done`);
  return done;
}

export interface BulkFlags {
  dryRun?: boolean;
  yes?: boolean;
}

/**
 * A bulk command: counts what it would touch (a dry run), asks before acting on a terminal (or
 * wants --yes elsewhere), then starts the operation and follows it. `verb` words the lines
 * ("retry" → "would retry 12 jobs", "retried 12 jobs").
 */
export async function runBulk(
  sundial: Sundial,
  call: (dryRun: boolean) => Promise<DryRun | OperationInfo>,
  { verb, past, what, json }: { verb: string; past: string; what: string; json?: boolean },
  flags: BulkFlags,
): Promise<unknown> {
  const preview = (await call(true)) as DryRun;
  const count = `${preview.exact ? '' : 'at least '}${preview.count} job${preview.count === 1 ? '' : 's'}`;
  if (flags.dryRun) return json ? preview : `would ${verb} ${count} ${what}`;
  // Nothing to do only when the count is exact: "at least 0" (a count that stopped looking) still acts.
  if (preview.count === 0 && preview.exact) return json ? preview : `no jobs to ${verb} ${what}`;
  if (!flags.yes) await confirm(`${verb} ${count} ${what}?`);
  const done = await follow(sundial, (await call(false)) as OperationInfo, verb);
  if (done.state === 'failed') {
    throw new SundialError(
      'SUNDIAL_OPERATION_FAILED',
      `${verb} stopped after ${done.processed} jobs: ${done.error}`,
    );
  }
  if (json) return done;
  const skipped =
    done.skipped > 0 ? ` (${done.skipped} had changed meanwhile and were left as they were)` : '';
  return `${past} ${done.changed} job${done.changed === 1 ? '' : 's'} ${what}${skipped}`;
}

/** Asks on a terminal; elsewhere refuses, since nobody is there to answer. */
async function confirm(question: string): Promise<void> {
  if (!process.stdin.isTTY) {
    throw new SundialError(
      'SUNDIAL_CONFIRM',
      `Not a terminal, so nobody can confirm: ${question} Pass --yes to act, or --dry-run to count`,
    );
  }
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await prompt.question(`${question} [y/N] `);
  prompt.close();
  if (!/^y(es)?$/i.test(answer.trim())) throw new SundialError('SUNDIAL_CANCELLED', 'Nothing done');
}
