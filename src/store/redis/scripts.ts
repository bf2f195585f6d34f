import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';
import { CANCELS_CHANNEL, SCHEDULES_CHANNEL } from '../store.ts';
import { LUA_KEYS } from './keys.ts';
import { LuaLibrary } from './lua-linker.ts';

/*
 * Every state change of the Redis engine is one of these scripts, so it is one atomic step: Redis
 * runs a script to the end before serving anyone else. Conventions, shared by all of them:
 *
 * - ARGV[1] is the key prefix and ARGV[2] the id of the store instance that runs the script (it
 *   goes out as the pub/sub message, so that instance can skip its own wake-ups); the script's own
 *   arguments start at ARGV[3]. KEYS[1] is the base of the keys the script is for: a queue's
 *   (`{P:q}`) or the global one (`{P}`). It routes the script to its node on a Redis Cluster; most
 *   scripts build their other keys inside, from names in their arguments or in the job.
 * - Each script exists twice: for a single Redis (`CLUSTER` false), where one script may touch the
 *   global keys and a queue's together, and for a Cluster (`CLUSTER` true), where it must stay in
 *   the slot of KEYS[1]. There the global part of a change (the id index, the runs index, the queue
 *   list) is a separate step that the client runs before or after (see redis-store.ts and keys.ts).
 * - Values travel as strings and stay strings: Lua numbers are doubles that `..` would print as
 *   1.7e+12, so arithmetic results go through `int()`.
 * - A nullable argument is '' for null and '=' followed by the value otherwise (so '' stays a
 *   possible dedupe key or note).
 * - Every script returns { announced, result, forgotten }: the queues and #channels it woke through
 *   pub/sub, which the calling instance then wakes in its own process directly; and on a Cluster
 *   the jobs it deleted (id, schedule or ''), whose global index entries the client then removes.
 */

/** The Lua the TypeScript side defines too (key names, channels), before the library's own. */
const LIB_HEAD = `${LUA_KEYS}
local forgotten = {}
local CANCELS = ${JSON.stringify(CANCELS_CHANNEL)}
local SCHEDULES = ${JSON.stringify(SCHEDULES_CHANNEL)}
`;

/**
 * Every script, one file each in `lua/` (its comment says what its arguments and result are); the
 * shared functions are in `lua/library.lua`.
 */
export const SCRIPT_NAMES = [
  'init',
  'addJobs',
  'finishAndClaim',
  'renewLeases',
  'releaseJobs',
  'releaseOrphans',
  'recoverStalled',
  'getJob',
  'listJobs',
  'countJobs',
  'retryJob',
  'cancelJob',
  'removeJob',
  'pruneJobs',
  'setQueuePaused',
  'syncSchedules',
  'fireSchedule',
  'listSchedules',
  'latestRuns',
  'setSchedulePaused',
  'acquireLock',
  'renewLock',
  'releaseLock',
  'listLocks',
  'setFlag',
  'reserveIds',
  'updateIndex',
  'fireBegin',
  'fireInsert',
  'fireAdvance',
  'runHeads',
  'findJobs',
  'forgetQueue',
] as const;

/**
 * A file of `lua/`, without its leading comment (which is for people reading the file: the script
 * Redis runs, and whose SHA1 it caches, stays as small as it was).
 */
function luaFile(name: string): string {
  return readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8').replace(/^(--[^\n]*\n)+/, '');
}

export type ScriptName = (typeof SCRIPT_NAMES)[number];

/**
 * A script run by its SHA1 (EVALSHA), sent whole (EVAL, which also caches it) only when the server
 * does not know it yet — after a restart or SCRIPT FLUSH. Written here rather than with ioredis's
 * `defineCommand` because that adds untyped methods to the client.
 */
export class LuaScript {
  readonly name: ScriptName;
  readonly source: string;
  readonly sha: string;

  constructor(name: ScriptName, source: string) {
    this.name = name;
    this.source = source;
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** Runs the script as KEYS[1] = `base` (which routes it on a Cluster) and the arguments. */
  async run(client: Redis | Cluster, base: string, args: (string | number)[]): Promise<unknown> {
    // The arguments go as one array, which ioredis flattens into the command: spreading them into
    // the call would overflow the stack with a large batch (100,000 schedules are 300,000 arguments).
    try {
      return await client.call('EVALSHA', ([this.sha, 1, base] as (string | number)[]).concat(args));
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return client.call('EVAL', ([this.source, 1, base] as (string | number)[]).concat(args));
    }
  }
}

/**
 * The scripts for a single Redis primary, or for a Redis Cluster (each staying in the slot of its
 * KEYS[1]). Each is built on its first use (linked from the library, 2 to 16 KB, and hashed): a
 * process uses a few of the 30 or so (an idle worker: 4), while an app on SQLite or PostgreSQL
 * imports this module too.
 *
 * On a Cluster the scripts start with a shebang (Redis 7): Redis then refuses any script that
 * touches keys of two slots, even two on the same node (which it lets a script without one do), so
 * a slip shows at once instead of only when two slots happen to part. It also refuses a writing
 * script while the server is out of memory, before it changes anything.
 */
export class Scripts {
  private readonly head: string;
  private readonly built = new Map<ScriptName, LuaScript>();

  constructor(cluster: boolean) {
    this.head = cluster ? '#!lua\nlocal CLUSTER = true' : 'local CLUSTER = false';
  }

  get(name: ScriptName): LuaScript {
    let script = this.built.get(name);
    if (!script) {
      const code = `${luaFile(name)}\nfinishScript()\nreturn { announced, result, forgotten }\n`;
      const source = `${this.head}\n${library().linkedFor(code)}\n${code}`;
      script = new LuaScript(name, source);
      this.built.set(name, script);
    }
    return script;
  }
}

let parsedLibrary: LuaLibrary | undefined;
function library(): LuaLibrary {
  parsedLibrary ??= new LuaLibrary(`${LIB_HEAD}${luaFile('library')}`);
  return parsedLibrary;
}

const kinds = new Map<boolean, Scripts>();

/** The scripts of one kind (single Redis or Cluster), shared by every store of that kind. */
export function scriptsFor(cluster: boolean): Scripts {
  let scripts = kinds.get(cluster);
  if (!scripts) {
    scripts = new Scripts(cluster);
    kinds.set(cluster, scripts);
  }
  return scripts;
}
