import { cpus, loadavg, totalmem } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

/** What the figures were measured on, kept beside them so two result files can be compared fairly. */
export interface MachineInfo {
  node: string;
  platform: string;
  cpus: number;
  cpuModel: string;
  memoryBytes: number;
  loadAverage: number[];
  /** Share of all CPU time spent busy just before the bench started (0..1). */
  busyBeforeStart: number;
}

/**
 * Fraction of total CPU time that was busy over `ms`. Other work on a 2-core machine (a test run,
 * a build) easily halves throughput, so the bench measures this instead of trusting its figures blindly.
 */
export async function measureBusy(ms = 500): Promise<number> {
  const before = cpuTimes();
  await sleep(ms);
  const after = cpuTimes();
  const total = after.total - before.total;
  return total > 0 ? (after.busy - before.busy) / total : 0;
}

function cpuTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const { times } of cpus()) {
    const sum = times.user + times.nice + times.sys + times.irq + times.idle;
    total += sum;
    busy += sum - times.idle;
  }
  return { busy, total };
}

export function describeMachine(busyBeforeStart: number): MachineInfo {
  return {
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryBytes: totalmem(),
    loadAverage: loadavg(),
    busyBeforeStart,
  };
}
