import { adminReads } from './a1-admin-reads.ts';
import { idleRss } from './idle-rss.ts';
import { fireLag } from './s1-fire-lag.ts';
import { manySchedules } from './s2-many-schedules.ts';
import { singleAdds } from './w1-single-adds.ts';
import { bulkAdds } from './w2-bulk-adds.ts';
import { drain } from './w3-drain.ts';
import { latency } from './w4-latency.ts';
import type { Workload } from './workload.ts';

export type { Sample, Workload } from './workload.ts';

/** Every workload, in the order they run and are printed. */
export const workloads: readonly Workload[] = [
  singleAdds,
  bulkAdds,
  drain,
  latency,
  idleRss,
  fireLag,
  manySchedules,
  adminReads,
];
