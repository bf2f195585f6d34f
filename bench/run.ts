/**
 * `npm run bench`: runs each workload on a fresh namespace of the chosen store (`--store`, default a
 * temp SQLite file) `--runs` times (default 3), and with `--compare` the incumbent peers on the same
 * server beside it; prints a table of medians against the targets or the peers, and writes
 * everything to bench/results/<timestamp>.json.
 */
import { fileURLToPath } from 'node:url';
import { type BenchArgs, parseBenchArgs, USAGE } from './args.ts';
import { killAllChildren } from './child.ts';
import { goalFor, judge } from './compare/goals.ts';
import { ensurePeersInstalled, installedVersion } from './compare/load.ts';
import { type Peer, type PeerWorkloadId, peersFor } from './compare/peers.ts';
import { runPeerWorkload } from './compare/workloads.ts';
import { describeMachine, measureBusy } from './machine.ts';
import {
  type ContenderRuns,
  formatValue,
  renderSettings,
  renderTable,
  summarise,
  summarisePeer,
  type WorkloadResult,
  writeJson,
} from './report.ts';
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

const PEER_WORKLOADS: readonly string[] = ['W1', 'W2', 'W3', 'W4'] satisfies PeerWorkloadId[];

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

/** One column of the comparison: ours or a peer, with how to run it once. */
interface Contender {
  label: string;
  run: () => Promise<Sample>;
  outcome: ContenderRuns;
}

/**
 * Runs every contender `args.runs` times, interleaved (ours, peer A, peer B, ours, …) so that a slow
 * spell of the machine falls on all of them alike rather than on whoever ran then. A contender that
 * fails stops there; the others go on.
 */
async function runContenders(workload: Workload, contenders: Contender[], args: BenchArgs): Promise<void> {
  const attempt = async (contender: Contender, what: string, record: (sample: Sample) => void) => {
    if (contender.outcome.error) return;
    try {
      const sample = await contender.run();
      record(sample);
      console.error(
        `${workload.id} ${contender.label} ${what}: ${formatValue(sample.value, workload.unit)} ${workload.unit}`,
      );
    } catch (error) {
      console.error(`${workload.id} ${contender.label} failed:`, error);
      contender.outcome.error = error instanceof Error ? error.message : String(error);
    }
  };
  if (workload.warmup && args.warmup) {
    for (const contender of contenders) {
      await attempt(contender, 'warm-up', (sample) => {
        contender.outcome.warmup = sample;
      });
    }
  }
  for (let run = 1; run <= args.runs; run++) {
    for (const contender of contenders) {
      await attempt(contender, `run ${run}/${args.runs}`, (sample) => contender.outcome.runs.push(sample));
    }
  }
}

async function runWorkload(
  workload: Workload,
  store: StoreKind,
  peers: readonly Peer[],
  args: BenchArgs,
): Promise<WorkloadResult> {
  const fresh = (): ContenderRuns => ({ warmup: null, runs: [], error: null });
  const ours: Contender = { label: 'Sundial', run: () => workload.run(store), outcome: fresh() };
  const others = PEER_WORKLOADS.includes(workload.id) ? peers : [];
  const theirs = others.map((peer) => ({
    peer,
    contender: {
      label: peer.name,
      run: () => runPeerWorkload(peer, workload.id as PeerWorkloadId),
      outcome: fresh(),
    },
  }));
  await runContenders(workload, [ours, ...theirs.map(({ contender }) => contender)], args);
  const peerResults = theirs.map(({ peer, contender }) =>
    summarisePeer(
      { id: peer.id, name: peer.name, settings: peer.settings[workload.id as PeerWorkloadId] },
      contender.outcome,
    ),
  );
  const result = summarise(workload, store, ours.outcome, peerResults);
  result.goal = ours.outcome.error
    ? null
    : judge(result.median, workload.better, peerResults, goalFor(store, workload.id));
  return result;
}

function versions(peer: Peer): Record<string, string | null> {
  return Object.fromEntries(peer.packages.map((name) => [name, installedVersion(name)]));
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

  // A server that is not there, or peers that cannot be installed, end the bench before any run.
  let server: Record<string, string> | null = null;
  let peers: Peer[] = [];
  try {
    if (store !== 'sqlite') {
      server = await describeServer(store);
      const swept = await sweepLeftovers(store);
      if (swept > 0) console.error(`Removed ${swept} namespace(s) left by earlier benches that were killed.`);
    }
    if (args.compare) {
      ensurePeersInstalled();
      peers = peersFor(store);
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
  for (const workload of selected) results.push(await runWorkload(workload, store, peers, args));

  const serverLine = server
    ? `Store: ${store}, ${Object.entries(server)
        .filter(([key]) => key !== 'url')
        .map(([key, value]) => `${key}=${value}`)
        .join(', ')}; a fresh ${store === 'postgres' ? 'schema' : 'key prefix'} per run`
    : 'Store: sqlite, a fresh temp file per run';
  console.log(`\n${serverLine}\n`);
  console.log(renderTable(results, args.compare ? peers.map((peer) => peer.name) : []));
  const described = peers.map((peer) => ({
    id: peer.id,
    name: peer.name,
    versions: versions(peer),
    settings: peer.settings,
  }));
  if (described.length > 0) {
    console.log(
      `\nPeer settings (same machine, same run, runs interleaved, a fresh namespace per run):\n${renderSettings(
        described.map((peer) => ({
          ...peer,
          versions: Object.entries(peer.versions)
            .map(([name, version]) => `${name} ${version}`)
            .join(', '),
        })),
      )}`,
    );
  }
  const file = writeJson(
    RESULTS_DIR,
    {
      startedAt,
      runsPerWorkload: args.runs,
      machine: describeMachine(busy),
      store,
      server,
      peers: described,
    },
    results,
  );
  console.log(`\nResults written to ${file}`);
  const failed = results.some((result) => result.error || result.peers.some((peer) => peer.error));
  return failed ? 1 : 0;
}

process.exitCode = await main();
