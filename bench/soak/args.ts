import { parseArgs } from 'node:util';
import { STORE_KINDS, type StoreKind } from '../stores.ts';

export interface SoakArgs {
  engine: StoreKind;
  minutes: number;
  /** Jobs per second the producer adds (open loop); in `max` mode only its first rate. */
  rate: number;
  /** Hold the worker's sustainable maximum: the producer follows the drain, keeping `backlog` waiting. */
  max: boolean;
  /** The backlog the producer keeps in `max` mode. */
  backlog: number;
  /** PostgreSQL's `autovacuum` on the private server. */
  autovacuum: boolean;
  /** The store's opt-in `maintenanceVacuum`, in seconds between rounds; null: off. PostgreSQL only. */
  maintenanceVacuum: number | null;
  /** Windows in the first `warmup` seconds are left out of the summary. */
  warmup: number;
  /** Extra server settings for the private PostgreSQL (`name=value`), for experiments. */
  pgSettings: Record<string, string>;
  help: boolean;
}

export const USAGE = `Usage: npm run bench:soak -- --engine sqlite|postgres|redis --minutes N [--rate 1500] [--max]
                           [--autovacuum on|off] [--maintenance-vacuum S] [--warmup 30] [--backlog 2000]
                           [--pg-set name=value]

One producer process adds single jobs open loop at --rate per second (it keeps to the schedule
however slow the store answers); one worker process runs them at concurrency 20, each handler
waiting 1 ms. Every 10 s it prints what was added and completed, the backlog, add p99, the time of
counts(), the worker's RSS and the store's size; at the end a summary, written with every window
to bench/results/soak-<engine>-<time>.json.

  --engine KIND      sqlite (a temp file), postgres (a private server, fsync on, removed at the
                     end) or redis (a private redis-server, appendonly yes, appendfsync everysec)
  --minutes N        how long the producer adds (fractions allowed)
  --rate R           jobs per second (default 1500)
  --max              the sustainable maximum instead of a fixed rate: every 0.5 s the producer's
                     rate is set to the worker's drain rate plus what brings the backlog (asked
                     of the producer, adds in flight among them, not yet completed) back to
                     --backlog (default 2000), so it adds as fast as the worker drains
  --autovacuum V     on or off (default on), PostgreSQL only
  --maintenance-vacuum S
                     the store's opt-in maintenance vacuum every S seconds (default none),
                     PostgreSQL only
  --warmup S         seconds left out of the summary (default 30)
  --pg-set N=V       another PostgreSQL server setting (repeatable), e.g. synchronous_commit=off`;

/** Reads the command line; throws with a message fit for the user on anything it does not know. */
export function parseSoakArgs(argv: readonly string[]): SoakArgs {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      engine: { type: 'string' },
      minutes: { type: 'string' },
      rate: { type: 'string', default: '1500' },
      max: { type: 'boolean', default: false },
      backlog: { type: 'string', default: '2000' },
      autovacuum: { type: 'string', default: 'on' },
      'maintenance-vacuum': { type: 'string' },
      warmup: { type: 'string', default: '30' },
      'pg-set': { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const blank: SoakArgs = {
    engine: 'sqlite',
    minutes: 0,
    rate: 0,
    max: false,
    backlog: 0,
    autovacuum: true,
    maintenanceVacuum: null,
    warmup: 0,
    pgSettings: {},
    help: true,
  };
  if (values.help) return blank;
  const engine = (values.engine ?? '').trim().toLowerCase();
  if (!(STORE_KINDS as readonly string[]).includes(engine)) {
    throw new Error(
      `--engine must be one of ${STORE_KINDS.join(', ')}, got ${JSON.stringify(values.engine)}`,
    );
  }
  const minutes = positive('--minutes', values.minutes);
  const rate = positive('--rate', values.rate);
  const backlog = positive('--backlog', values.backlog);
  const warmup = Number(values.warmup);
  if (!Number.isFinite(warmup) || warmup < 0)
    throw new Error(`--warmup must be seconds ≥ 0, got ${values.warmup}`);
  if (values.autovacuum !== 'on' && values.autovacuum !== 'off') {
    throw new Error(`--autovacuum must be on or off, got ${JSON.stringify(values.autovacuum)}`);
  }
  const pgSettings: Record<string, string> = {};
  for (const entry of values['pg-set'] ?? []) {
    const match = /^([a-z_.]+)=([A-Za-z0-9_.:,-]+)$/.exec(entry);
    if (!match) throw new Error(`--pg-set takes name=value (no spaces), got ${JSON.stringify(entry)}`);
    pgSettings[match[1]!] = match[2]!;
  }
  const vacuum = values['maintenance-vacuum'];
  const maintenanceVacuum = vacuum === undefined ? null : positive('--maintenance-vacuum', vacuum);
  if (
    engine !== 'postgres' &&
    (values.autovacuum === 'off' || Object.keys(pgSettings).length > 0 || maintenanceVacuum !== null)
  ) {
    throw new Error('--autovacuum, --maintenance-vacuum and --pg-set apply to --engine postgres only');
  }
  return {
    engine: engine as StoreKind,
    minutes,
    rate,
    max: values.max,
    backlog,
    autovacuum: values.autovacuum === 'on',
    maintenanceVacuum,
    warmup,
    pgSettings,
    help: false,
  };
}

function positive(flag: string, value: string | undefined): number {
  const number = Number(value);
  if (value === undefined || !Number.isFinite(number) || number <= 0) {
    throw new Error(`${flag} must be a number above 0, got ${JSON.stringify(value)}`);
  }
  return number;
}
