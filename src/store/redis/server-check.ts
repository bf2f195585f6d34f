import type { Redis } from 'ioredis';
import { SundialError } from '../../core/index.ts';

/** What `init()` found about the settings that decide whether Redis keeps Sundial's data. */
export interface DurabilityCheck {
  /** `CONFIG GET maxmemory-policy`, or null when it could not be read. */
  maxmemoryPolicy: string | null;
  /** `CONFIG GET appendonly` (`yes` or `no`), or null. */
  appendonly: string | null;
  /** `CONFIG GET save` (RDB snapshot rules; empty when off), or null. */
  save: string | null;
  /** The warning given, or null when all is well. */
  warning: SundialError | null;
}

/** A setting that can lose jobs: eviction or no persistence. */
export const AT_RISK_CODE = 'SUNDIAL_REDIS_AT_RISK';
/** CONFIG was refused (a managed Redis, an ACL): nobody knows. */
export const UNCHECKED_CODE = 'SUNDIAL_REDIS_UNCHECKED';

/**
 * The warning for these settings, or null. A policy other than `noeviction` lets Redis drop keys
 * under memory pressure (a job, a lease, a lock just vanishes); with neither AOF nor RDB snapshots a
 * restart empties the store.
 */
export function durabilityWarning(settings: {
  maxmemoryPolicy: string | null;
  appendonly: string | null;
  save: string | null;
}): SundialError | null {
  const { maxmemoryPolicy, appendonly, save } = settings;
  if (maxmemoryPolicy === null || appendonly === null || save === null) {
    const unknown = Object.entries({ 'maxmemory-policy': maxmemoryPolicy, appendonly, save })
      .filter(([, value]) => value === null)
      .map(([name]) => name);
    return unchecked(`CONFIG GET did not return ${unknown.join(', ')}`);
  }
  const risks: string[] = [];
  if (maxmemoryPolicy !== 'noeviction') {
    risks.push(
      `maxmemory-policy is ${maxmemoryPolicy}, not noeviction: when Redis reaches maxmemory it may evict ` +
        "Sundial's keys, and jobs, leases, schedules or locks vanish without an error " +
        '(with noeviction Redis refuses writes instead)',
    );
  }
  if (appendonly !== 'yes' && save.trim() === '') {
    risks.push(
      'persistence is off (appendonly no, save ""): a Redis restart loses every job, schedule and lock ' +
        '(turn on AOF: appendonly yes, appendfsync everysec)',
    );
  }
  if (risks.length === 0) return null;
  return new SundialError(AT_RISK_CODE, `Redis may lose Sundial's data: ${risks.join('; ')}.`);
}

function unchecked(why: string): SundialError {
  return new SundialError(
    UNCHECKED_CODE,
    `Could not check that Redis keeps Sundial's data (${why}): make sure maxmemory-policy is noeviction ` +
      'and persistence (AOF) is on, or jobs can be evicted, or lost when Redis restarts.',
  );
}

/** Reads the settings (one at a time: Redis before 7 takes one parameter per CONFIG GET). */
export async function checkDurability(client: Redis): Promise<DurabilityCheck> {
  let values: (string | null)[];
  try {
    values = await Promise.all(
      ['maxmemory-policy', 'appendonly', 'save'].map(async (name) =>
        configValue(await client.config('GET', name)),
      ),
    );
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return {
      maxmemoryPolicy: null,
      appendonly: null,
      save: null,
      warning: unchecked(`CONFIG GET was refused: ${reason}`),
    };
  }
  const [maxmemoryPolicy, appendonly, save] = values as [string | null, string | null, string | null];
  return {
    maxmemoryPolicy,
    appendonly,
    save,
    warning: durabilityWarning({ maxmemoryPolicy, appendonly, save }),
  };
}

/** CONFIG GET answers [name, value] (or, with RESP3 maps, { name: value }). */
function configValue(reply: unknown): string | null {
  if (Array.isArray(reply)) return typeof reply[1] === 'string' ? reply[1] : null;
  if (reply && typeof reply === 'object') {
    const value = Object.values(reply)[0];
    return typeof value === 'string' ? value : null;
  }
  return null;
}
