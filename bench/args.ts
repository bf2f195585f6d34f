import { parseArgs } from 'node:util';

export interface BenchArgs {
  /** Upper-cased workload ids to run; empty for all. */
  only: string[];
  runs: number;
  warmup: boolean;
  help: boolean;
}

export const USAGE = `Usage: npm run bench -- [--only W1,W3] [--runs N] [--no-warmup]

  --only IDS    run only these workloads (comma-separated or repeated): W1 W2 W3 W4 RSS
  --runs N      runs per workload, the median is reported (default 3)
  --no-warmup   skip the uncounted first run of the in-process workloads (W1, W2)`;

/** Reads the command line; throws with a message fit for the user on anything it does not know. */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      only: { type: 'string', multiple: true },
      runs: { type: 'string' },
      warmup: { type: 'boolean', default: true },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
    allowNegative: true,
  });
  const runs = Number(values.runs ?? 3);
  if (!Number.isInteger(runs) || runs < 1 || runs > 100) {
    throw new Error(`--runs must be a whole number from 1 to 100, got ${JSON.stringify(values.runs)}`);
  }
  const only = (values.only ?? [])
    .flatMap((value) => value.split(','))
    .map((id) => id.trim().toUpperCase())
    .filter((id) => id !== '');
  return { only, runs, warmup: values.warmup, help: values.help ?? false };
}
