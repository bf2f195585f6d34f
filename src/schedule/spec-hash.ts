import { createHash } from 'node:crypto';
import type { LoadedTask } from './schedule.ts';

/** Names one system image gives UTC and another does not: the same zone, so the same spec. */
const UTC_NAMES = new Set([
  'UTC',
  'Etc/UTC',
  'Etc/UCT',
  'UCT',
  'Etc/Universal',
  'Universal',
  'Etc/Zulu',
  'Zulu',
]);

function sameZoneName(zone: string): string {
  return UTC_NAMES.has(zone) ? 'UTC' : zone;
}

/** The process's own time zone, read once (making a formatter per task is slow with many tasks). */
let localZone: string | undefined;

/**
 * Changes whenever anything about when the task runs changes. A task without a zone of its own runs
 * in the process's zone, so that zone is part of it: hosts in different zones disagree on the spec.
 */
export function specHash(task: LoadedTask): string {
  const { schedule } = task.definition;
  localZone ??= sameZoneName(Intl.DateTimeFormat().resolvedOptions().timeZone);
  const zone = schedule.timezone ?? `local:${localZone}`;
  return createHash('sha1')
    .update(JSON.stringify({ ...schedule, timezone: zone }))
    .digest('hex')
    .slice(0, 16);
}
