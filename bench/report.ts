import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GoalOutcome } from './compare/goals.ts';
import type { MachineInfo } from './machine.ts';
import { median } from './stats.ts';
import type { StoreKind } from './stores.ts';
import type { Sample, Workload } from './workloads/index.ts';

/** What one contender (ours or a peer) measured on one workload over all its runs. */
export interface ContenderRuns {
  /** The first, uncounted run of an in-process workload (see `Workload.warmup`). */
  warmup: Sample | null;
  /** Every measured run, in order, with its secondary figures. */
  runs: Sample[];
  /** Why it stopped early, if it did. */
  error: string | null;
}

/** A peer's figures on one workload, with the settings it ran with. */
export interface PeerResult extends ContenderRuns {
  id: string;
  name: string;
  settings: string;
  /** Median of the headline figure over the runs; null when no run finished. */
  median: number | null;
  details: Record<string, number>;
}

/** One workload's outcome over all its runs: what the table shows and the JSON keeps. */
export interface WorkloadResult {
  id: string;
  title: string;
  metric: string;
  unit: Workload['unit'];
  better: Workload['better'];
  /** The engine measured. */
  store: StoreKind;
  target: number;
  /** Whether `target` is set for this store (see `Workload.targetFor`). */
  targetApplies: boolean;
  reference: number | null;
  /** The first, uncounted run of an in-process workload (see `Workload.warmup`). */
  warmup: Sample | null;
  /** Every measured run, in order, with its secondary figures. */
  runs: Sample[];
  /** Median of the headline figure over the runs; null when no run finished. */
  median: number | null;
  /** Median of each secondary figure over the runs. */
  details: Record<string, number>;
  /** Against `target`; null where it does not apply (the server engines' goals are ratios to peers). */
  pass: boolean | null;
  /** How many times better than BullMQ's fixed figure (>1 is better, for latency too); null without one. */
  vsReference: number | null;
  /** Why the workload stopped early, if it did. */
  error: string | null;
  /** The peers measured beside ours in the same run (`--compare`); empty otherwise. */
  peers: PeerResult[];
  /** Ours against the better peer, judged by the issue's goal; null without peers or a goal. */
  goal: GoalOutcome | null;
}

function medians(runs: readonly Sample[]): { median: number | null; details: Record<string, number> } {
  const details: Record<string, number> = {};
  for (const key of Object.keys(runs[0]?.details ?? {})) {
    details[key] = median(runs.map((run) => run.details?.[key] ?? Number.NaN));
  }
  return { median: runs.length > 0 ? median(runs.map((run) => run.value)) : null, details };
}

export function summarisePeer(
  peer: { id: string; name: string; settings: string },
  outcome: ContenderRuns,
): PeerResult {
  return { ...peer, ...outcome, ...medians(outcome.runs) };
}

export function summarise(
  workload: Workload,
  store: StoreKind,
  { warmup, runs, error }: ContenderRuns,
  peers: PeerResult[] = [],
  goal: GoalOutcome | null = null,
): WorkloadResult {
  const { median: value, details } = medians(runs);
  const higher = workload.better === 'higher';
  const reference = workload.reference ?? null;
  const targetApplies = !workload.targetFor || workload.targetFor.includes(store);
  return {
    id: workload.id,
    title: workload.title,
    metric: workload.metric,
    unit: workload.unit,
    better: workload.better,
    store,
    target: workload.target,
    targetApplies,
    reference,
    warmup,
    runs,
    median: value,
    details,
    // A partial set of runs is not a pass: a workload that errored is reported as such.
    pass:
      !targetApplies || value === null || error
        ? null
        : higher
          ? value >= workload.target
          : value <= workload.target,
    vsReference: value === null || reference === null ? null : higher ? value / reference : reference / value,
    error,
    peers,
    goal,
  };
}

export function formatValue(value: number, unit: Workload['unit']): string {
  switch (unit) {
    case 'jobs/s':
      return Math.round(value).toLocaleString('en');
    case 'ms':
      return value.toFixed(2);
    case 'MB':
      return value.toFixed(1);
    case 'ratio':
      return `${value.toFixed(2)}×`;
  }
}

function formatRuns(runs: readonly Sample[], unit: Workload['unit']): string {
  return runs.map((run) => formatValue(run.value, unit)).join(' / ');
}

function layout(header: string[], rows: string[][]): string[] {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]!.length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)];
}

const STORE_NAMES: Record<StoreKind, string> = { sqlite: 'SQLite', postgres: 'PostgreSQL', redis: 'Redis' };

/**
 * A plain-text table, one row per workload. Without peers: the median against the SQLite targets and
 * BullMQ's fixed figures. With peers: each peer's median beside ours, ours against the better peer,
 * and the issue's goal for that ratio.
 */
export function renderTable(results: readonly WorkloadResult[], peerNames: readonly string[] = []): string {
  const compare = peerNames.length > 0;
  const store = results[0]?.store ?? 'sqlite';
  const ours = `Sundial (${STORE_NAMES[store]})`;
  const header = compare
    ? ['id', 'workload', 'figure', `${ours} runs`, 'median', ...peerNames, 'vs better peer', 'goal', 'result']
    : ['id', 'workload', 'figure', 'runs', 'median', 'target', 'result', 'BullMQ', 'vs BullMQ'];
  const rows = results.map((r) => {
    const start = [
      r.id,
      r.title,
      `${r.metric} (${r.unit})`,
      formatRuns(r.runs, r.unit),
      r.median === null ? '-' : formatValue(r.median, r.unit),
    ];
    if (compare) {
      const peerCells = peerNames.map((name) => {
        const peer = r.peers.find((p) => p.name === name);
        if (!peer) return '-';
        if (peer.median === null) return peer.error ? 'ERROR' : '-';
        return formatValue(peer.median, r.unit) + (peer.error ? ' (ERROR)' : '');
      });
      const goal = r.goal;
      // A workload without peers (RSS, S1, S2) is judged by its own target where that applies.
      const target = !goal && r.targetApplies;
      return [
        ...start,
        ...peerCells,
        goal ? `${goal.times.toFixed(2)}× ${goal.against}` : '-',
        goal
          ? `≥ ${goal.goal}×`
          : target
            ? `${r.better === 'higher' ? '≥' : '≤'} ${formatValue(r.target, r.unit)}`
            : '-',
        r.error
          ? 'ERROR'
          : goal
            ? goal.pass
              ? 'PASS'
              : 'MISS'
            : target && r.pass !== null
              ? r.pass
                ? 'PASS'
                : 'MISS'
              : '-',
      ];
    }
    const judged = r.targetApplies;
    return [
      ...start,
      judged ? `${r.better === 'higher' ? '≥' : '≤'} ${formatValue(r.target, r.unit)}` : '-',
      r.error ? 'ERROR' : judged ? (r.pass ? 'PASS' : 'MISS') : '-',
      r.reference === null ? '-' : formatValue(r.reference, r.unit),
      r.vsReference === null ? '-' : `${r.vsReference.toFixed(2)}×`,
    ];
  });
  const notes = results.flatMap((r) => {
    const out: string[] = [];
    const details = Object.entries(r.details);
    if (details.length > 0) {
      out.push(`${r.id} medians: ${details.map(([key, value]) => `${key} ${value.toFixed(3)}`).join(', ')}`);
    }
    if (r.error) out.push(`${r.id} error: ${r.error}`);
    for (const peer of r.peers) {
      const peerDetails = Object.entries(peer.details)
        .map(([key, value]) => `${key} ${value.toFixed(3)}`)
        .join(', ');
      out.push(
        `${r.id} ${peer.name}: runs ${formatRuns(peer.runs, r.unit) || '-'}${peerDetails ? `; medians: ${peerDetails}` : ''}`,
      );
      if (peer.error) out.push(`${r.id} ${peer.name} error: ${peer.error}`);
    }
    if (r.goal && r.goal.missing.length > 0) {
      out.push(`${r.id} goal judged without ${r.goal.missing.join(', ')} (no figure)`);
    }
    return out;
  });
  const legend = compare
    ? 'vs better peer: times better than the better peer in this run (>1 is better; for latency theirs ÷ ours); goal from issue 4.'
    : store === 'sqlite'
      ? 'vs BullMQ: times better than BullMQ on Redis on this machine (>1 is better; for latency BullMQ ÷ ours).'
      : "W1–W4 targets are the embedded engine's; this engine's goals there are ratios to its peers: add --compare. " +
        'vs BullMQ: against fixed figures measured earlier on this machine.';
  return [...layout(header, rows), '', legend, ...notes].join('\n');
}

/** Each peer's settings per workload, printed so a reader can judge how fairly it was driven. */
export function renderSettings(
  peers: readonly { name: string; versions: string; settings: Record<string, string> }[],
): string {
  return peers
    .map(
      (peer) =>
        `${peer.name} (${peer.versions}):\n${Object.entries(peer.settings)
          .map(([id, text]) => `  ${id}: ${text}`)
          .join('\n')}`,
    )
    .join('\n');
}

/** Writes the results with enough about the machine and commit to compare files later; returns the path. */
export function writeJson(
  directory: string,
  run: {
    startedAt: Date;
    runsPerWorkload: number;
    machine: MachineInfo;
    store: StoreKind;
    server: Record<string, string> | null;
    peers: readonly { id: string; name: string; versions: Record<string, string | null> }[];
  },
  results: readonly WorkloadResult[],
): string {
  const file = join(directory, `${run.startedAt.toISOString().replaceAll(':', '-')}.json`);
  const report = {
    date: run.startedAt.toISOString(),
    commit: gitCommit(),
    runsPerWorkload: run.runsPerWorkload,
    machine: run.machine,
    store: run.store,
    server: run.server,
    peers: run.peers,
    workloads: results,
  };
  mkdirSync(directory, { recursive: true });
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}

function gitCommit(): string | null {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { encoding: 'utf8' }).trim() !== '';
    return dirty ? `${commit}+dirty` : commit;
  } catch {
    return null;
  }
}
