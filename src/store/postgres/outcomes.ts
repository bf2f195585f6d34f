import type { JobOutcome } from '../store.ts';
import type { Queryable } from './context.ts';
import { outcomeBatch, outcomesCte } from './job-sql.ts';

/**
 * Applies outcomes held under the right owner and attempt, in order. A batch is one statement;
 * one that names a job twice (rare) goes in rounds, each job once per round, so a later outcome
 * sees what an earlier one did, as if they were applied one by one.
 */
export async function applyOutcomes(
  client: Queryable,
  schema: { q: string; name: string },
  outcomes: readonly JobOutcome[],
): Promise<boolean[]> {
  const applied: boolean[] = new Array(outcomes.length).fill(false);
  let pending = outcomes.map((outcome, index) => ({ outcome, index }));
  while (pending.length > 0) {
    const seen = new Set<string>();
    const round = pending.filter(({ outcome }) => !seen.has(outcome.id) && seen.add(outcome.id));
    pending = pending.filter((entry) => !round.includes(entry));
    const done = await applyRound(
      client,
      schema,
      round.map(({ outcome }) => outcome),
    );
    round.forEach(({ index }, i) => {
      applied[index] = done[i]!;
    });
  }
  return applied;
}

/** One statement for outcomes of distinct jobs, whatever their kinds. */
async function applyRound(
  client: Queryable,
  schema: { q: string; name: string },
  outcomes: readonly JobOutcome[],
): Promise<boolean[]> {
  const batch = outcomeBatch(outcomes);
  const { rows } = await client.query<{ id: number }>({
    name: `${schema.name}:finish-${batch.reader}`,
    text: `WITH ${outcomesCte(schema.q, '$1', batch.reader)} SELECT id FROM done`,
    values: [batch.text],
  });
  const applied = new Set(rows.map((row) => String(row.id)));
  return outcomes.map((outcome) => applied.has(outcome.id));
}
