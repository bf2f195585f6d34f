import type { Command } from 'commander';
import { JOB_STATES, parseDuration } from '../index.ts';
import { wholeNumber } from './shell.ts';

/** The flags of a job filter, as the commands that list or act by filter take them. */
export interface FilterFlags {
  state?: string[];
  name?: string;
  text?: string;
  since?: string;
  until?: string;
  limit?: string;
}

/** The admin fields these flags give, for errors that name the flag (see `OpenOptions.flags`). */
export const FILTER_FLAG_NAMES = {
  states: '--state',
  name: '--name',
  text: '--text',
  createdFrom: '--since',
  createdTo: '--until',
  limit: '--limit',
  cursor: '--cursor',
  order: '--order',
};

export function addFilterFlags(command: Command, { states = true } = {}): Command {
  if (states) command.option('--state <states...>', `only jobs in these states (${JOB_STATES.join(', ')})`);
  return command
    .option('--name <name>', 'only jobs of this name')
    .option('--text <text>', 'only jobs whose payload or error contains this text (scans the queue)')
    .option('--since <time>', 'only jobs created since: an ISO date, or a duration ago (2h, 7d)')
    .option('--until <time>', 'only jobs created before: an ISO date, or a duration ago');
}

/** The admin filter the flags ask for (times given as durations count back from now). */
export function filterFrom(flags: FilterFlags, now: number, { states = true } = {}) {
  return {
    ...(states && flags.state ? { states: flags.state } : {}),
    ...(flags.name !== undefined ? { name: flags.name } : {}),
    ...(flags.text !== undefined ? { text: flags.text } : {}),
    ...(flags.since !== undefined ? { createdFrom: timeFlag('--since', flags.since, now) } : {}),
    ...(flags.until !== undefined ? { createdTo: timeFlag('--until', flags.until, now) } : {}),
    ...(flags.limit !== undefined ? { limit: wholeNumber('--limit', flags.limit) } : {}),
  };
}

/** A duration (`2h`) counts back from now; anything else goes to the admin call as a date to check. */
function timeFlag(flag: string, text: string, now: number): number | string {
  return /^\s*\d+(\.\d+)?\s*(ms|s|m|h|d|w)\s*$/.test(text) ? now - parseDuration(flag, text) : text;
}
