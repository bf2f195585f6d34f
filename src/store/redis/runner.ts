import type { ClaimRequest, FinishAndClaimResult, JobOutcome } from '../store.ts';
import { type FlatHash, jobFromHash, nullable, pushOutcomeArgs } from './jobs.ts';
import type { ScriptName } from './scripts.ts';

/** What the Redis store lends the helpers around its scripts: the scripts, run as itself. */
export interface ScriptRunner {
  readonly prefix: string;
  /** Runs a script with KEYS[1] = `base` and the arguments after the prefix and origin. */
  run(name: ScriptName, base: string, args: string[]): Promise<unknown>;
}

/** One finishAndClaim script, sent as `base`: the outcomes stored, then the claim if any. */
export async function finishAndClaimScript(
  runner: ScriptRunner,
  base: string,
  outcomes: readonly JobOutcome[],
  claim: ClaimRequest | null,
): Promise<FinishAndClaimResult> {
  const args: string[] = [String(outcomes.length)];
  for (const outcome of outcomes) pushOutcomeArgs(args, outcome);
  if (claim) {
    args.push(
      claim.queue,
      claim.owner,
      String(claim.limit),
      String(claim.now),
      String(claim.leaseExpiresAt),
      nullable(claim.offerUntil ?? null),
      claim.offerStands ? '1' : '0',
    );
  }
  const [applied, jobs, nextDue] = (await runner.run('finishAndClaim', base, args)) as [
    number[],
    string,
    string | null,
  ];
  return {
    applied: applied.map((flag) => flag === 1),
    jobs: (JSON.parse(jobs) as FlatHash[]).map(jobFromHash),
    ...(claim ? { nextRunAt: nextDue === null ? null : Number(nextDue) } : {}),
  };
}
