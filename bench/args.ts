import { parseArgs } from 'node:util';
import { STORE_KINDS, type StoreKind } from './stores.ts';

export interface BenchArgs {
  /** Upper-cased workload ids to run; empty for all. */
  only: string[];
  runs: number;
  warmup: boolean;
  store: StoreKind;
  /** Run the peers on the same kind of server beside ours (bench/compare). */
  compare: boolean;
  help: boolean;
}

export const USAGE = `Usage: npm run bench -- [--store sqlite|postgres|redis] [--compare] [--only W1,W3] [--runs N] [--no-warmup]

  --store KIND  the engine to measure (default sqlite); every run gets a fresh temp file,
                PostgreSQL schema or Redis key prefix, removed afterwards. Servers:
                SUNDIAL_BENCH_POSTGRES_URL (default postgres://root@127.0.0.1:5432/test),
                SUNDIAL_BENCH_REDIS_URL (default redis://127.0.0.1:6379)
  --compare     also run the incumbent peers on the same server with the same workloads
                (postgres: pg-boss and graphile-worker; redis: BullMQ) and judge the goals.
                They live in bench/compare, a package of their own that is installed on
                first use (or: npm install --prefix bench/compare)
  --only IDS    run only these workloads (comma-separated or repeated): W1 W2 W3 W4 RSS S1 S2 A1
  --runs N      runs per workload and contender, the median is reported (default 3)
  --no-warmup   skip the uncounted first run of the in-process workloads (W1, W2)`;

/** Reads the command line; throws with a message fit for the user on anything it does not know. */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      only: { type: 'string', multiple: true },
      runs: { type: 'string' },
      warmup: { type: 'boolean', default: true },
      store: { type: 'string', default: 'sqlite' },
      compare: { type: 'boolean', default: false },
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
  const store = values.store.trim().toLowerCase();
  if (!isStoreKind(store)) {
    throw new Error(`--store must be one of ${STORE_KINDS.join(', ')}, got ${JSON.stringify(values.store)}`);
  }
  if (values.compare && store === 'sqlite') {
    throw new Error(
      '--compare runs the peers on a server: use it with --store postgres (pg-boss, graphile-worker) or --store redis (BullMQ)',
    );
  }
  const only = (values.only ?? [])
    .flatMap((value) => value.split(','))
    .map((id) => id.trim().toUpperCase())
    .filter((id) => id !== '');
  return { only, runs, warmup: values.warmup, store, compare: values.compare, help: values.help ?? false };
}

function isStoreKind(value: string): value is StoreKind {
  return (STORE_KINDS as readonly string[]).includes(value);
}
