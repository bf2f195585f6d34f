/** What the producer and the worker process share: talking to the parent, and their own figures. */
import type { ChildMessage, LatencySummary, ProcessFigures } from './protocol.ts';

export function sendToParent(message: ChildMessage): void {
  process.send?.(message);
}

/** Reads the config the parent passed, and ties this process's life to the parent's. */
export function childConfig<Config>(script: string): Config {
  if (!process.send) throw new Error(`${script} is started by bench/soak/run.ts (it needs an IPC channel)`);
  // An orphan would keep a core busy and skew whatever runs next: die with the parent.
  process.on('disconnect', () => process.exit(1));
  return JSON.parse(process.argv[2] ?? '') as Config;
}

let cpuMark = process.cpuUsage();

/** Memory now, and CPU time spent since the previous call. */
export function ownFigures(): ProcessFigures {
  const cpu = process.cpuUsage(cpuMark);
  cpuMark = process.cpuUsage();
  const memory = process.memoryUsage();
  return { rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, cpuMs: (cpu.user + cpu.system) / 1000 };
}

/** Nearest-rank percentiles of `values` (which it sorts in place), or null for none. */
export function summariseLatencies(values: number[]): LatencySummary | null {
  if (values.length === 0) return null;
  values.sort((a, b) => a - b);
  const rank = (p: number) => values[Math.max(0, Math.ceil((p / 100) * values.length) - 1)]!;
  return { count: values.length, p50: rank(50), p99: rank(99), max: values[values.length - 1]! };
}
