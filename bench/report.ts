import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MachineInfo } from './machine.ts';
import { median } from './stats.ts';
import type { Sample, Workload } from './workloads/index.ts';

/** One workload's outcome over all its runs: what the table shows and the JSON keeps. */
export interface WorkloadResult {
  id: string;
  title: string;
  metric: string;
  unit: Workload['unit'];
  better: Workload['better'];
  target: number;
  reference: number | null;
  /** The first, uncounted run of an in-process workload (see `Workload.warmup`). */
  warmup: Sample | null;
  /** Every measured run, in order, with its secondary figures. */
  runs: Sample[];
  /** Median of the headline figure over the runs; null when no run finished. */
  median: number | null;
  /** Median of each secondary figure over the runs. */
  details: Record<string, number>;
  pass: boolean | null;
  /** How many times better than BullMQ (>1 is better, for latency too); null without a reference. */
  vsReference: number | null;
  /** Why the workload stopped early, if it did. */
  error: string | null;
}

export function summarise(
  workload: Workload,
  { warmup, runs, error }: { warmup: Sample | null; runs: Sample[]; error: string | null },
): WorkloadResult {
  const value = runs.length > 0 ? median(runs.map((run) => run.value)) : null;
  const details: Record<string, number> = {};
  for (const key of Object.keys(runs[0]?.details ?? {})) {
    details[key] = median(runs.map((run) => run.details?.[key] ?? Number.NaN));
  }
  const higher = workload.better === 'higher';
  const reference = workload.reference ?? null;
  return {
    id: workload.id,
    title: workload.title,
    metric: workload.metric,
    unit: workload.unit,
    better: workload.better,
    target: workload.target,
    reference,
    warmup,
    runs,
    median: value,
    details,
    // A partial set of runs is not a pass: a workload that errored is reported as such.
    pass: value === null || error ? null : higher ? value >= workload.target : value <= workload.target,
    vsReference: value === null || reference === null ? null : higher ? value / reference : reference / value,
    error,
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

/** A plain-text table, one row per workload, with the median, the target and how it compares. */
export function renderTable(results: readonly WorkloadResult[]): string {
  const header = ['id', 'workload', 'figure', 'runs', 'median', 'target', 'result', 'BullMQ', 'vs BullMQ'];
  const rows = results.map((r) => [
    r.id,
    r.title,
    `${r.metric} (${r.unit})`,
    r.runs.map((run) => formatValue(run.value, r.unit)).join(' / '),
    r.median === null ? '-' : formatValue(r.median, r.unit),
    `${r.better === 'higher' ? '≥' : '≤'} ${formatValue(r.target, r.unit)}`,
    r.error ? 'ERROR' : r.pass ? 'PASS' : 'MISS',
    r.reference === null ? '-' : formatValue(r.reference, r.unit),
    r.vsReference === null ? '-' : `${r.vsReference.toFixed(2)}×`,
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]!.length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join('  ')
      .trimEnd();
  const notes = results.flatMap((r) => {
    const out: string[] = [];
    const details = Object.entries(r.details);
    if (details.length > 0) {
      out.push(`${r.id} medians: ${details.map(([key, value]) => `${key} ${value.toFixed(3)}`).join(', ')}`);
    }
    if (r.error) out.push(`${r.id} error: ${r.error}`);
    return out;
  });
  return [
    line(header),
    line(widths.map((width) => '-'.repeat(width))),
    ...rows.map(line),
    '',
    'vs BullMQ: times better than BullMQ on Redis on this machine (>1 is better; for latency BullMQ ÷ ours).',
    ...notes,
  ].join('\n');
}

/** Writes the results with enough about the machine and commit to compare files later; returns the path. */
export function writeJson(
  directory: string,
  run: { startedAt: Date; runsPerWorkload: number; machine: MachineInfo },
  results: readonly WorkloadResult[],
): string {
  const file = join(directory, `${run.startedAt.toISOString().replaceAll(':', '-')}.json`);
  const report = {
    date: run.startedAt.toISOString(),
    commit: gitCommit(),
    runsPerWorkload: run.runsPerWorkload,
    machine: run.machine,
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
