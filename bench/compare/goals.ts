/**
 * The goals of issue 4 for the server engines, as "times better than the peer" in the same run:
 * throughput ours ÷ theirs, latency theirs ÷ ours, so bigger is better for both.
 *
 * - Redis engine: ≥ 1.5× BullMQ on W1, W2 and W3; W4 p99 ≤ ½ of BullMQ's (≥ 2×).
 * - PostgreSQL engine: W1 ≥ 2× the better PostgreSQL peer; W2 and W3 ≥ the better peer (≥ 1×);
 *   W4 p99 ≤ ½ of the better peer's (≥ 2×).
 */
import type { StoreKind } from '../stores.ts';

const GOALS: Partial<Record<StoreKind, Record<string, number>>> = {
  redis: { W1: 1.5, W2: 1.5, W3: 1.5, W4: 2 },
  postgres: { W1: 2, W2: 1, W3: 1, W4: 2 },
};

/** How many times better than the better peer the engine on `store` must be on `workload`, if set. */
export function goalFor(store: StoreKind, workload: string): number | null {
  return GOALS[store]?.[workload] ?? null;
}

export interface PeerFigure {
  name: string;
  median: number | null;
}

export interface GoalOutcome {
  /** The peer compared with: the better of those that finished. */
  against: string;
  /** Times better than that peer (>1 is better, for latency too). */
  times: number;
  goal: number;
  pass: boolean;
  /** Peers that did not finish, so the comparison is with fewer than intended. */
  missing: string[];
}

/** Our median against the better peer's; null when we or every peer have no figure. */
export function judge(
  ours: number | null,
  better: 'higher' | 'lower',
  figures: readonly PeerFigure[],
  goal: number | null,
): GoalOutcome | null {
  const measured = figures.filter(
    (figure): figure is { name: string; median: number } => figure.median !== null,
  );
  if (ours === null || goal === null || measured.length === 0) return null;
  const best = measured.reduce((a, b) =>
    (better === 'higher' ? b.median > a.median : b.median < a.median) ? b : a,
  );
  const times = better === 'higher' ? ours / best.median : best.median / ours;
  return {
    against: best.name,
    times,
    goal,
    pass: times >= goal,
    missing: figures.filter((figure) => figure.median === null).map((figure) => figure.name),
  };
}
