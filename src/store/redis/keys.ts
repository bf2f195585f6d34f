/**
 * Where the Redis engine keeps things. `P` is the store's prefix (default `sundial`).
 *
 * Global keys share the hash tag `{P}`:
 * - `{P}:version`            the layout version, so an older Sundial refuses a newer layout
 * - `{P}:ids`                the job-id counter (ids are increasing integers across all queues)
 * - `{P}:jobs`               hash: job id -> its queue (a job is found by id alone)
 * - `{P}:queues`             set: queues that have jobs or a pause flag
 * - `{P}:schedule:<id>`      hash: one schedule; `{P}:schedule-ids` (all ids, by name) and
 *                            `{P}:schedules-due` (score: next run, only those not paused)
 * - `{P}:runs` / `{P}:runs:<schedule>`  schedules that fired jobs / their jobs' ids (latest run)
 * - `{P}:lock:<name>`        hash: one lock (kept after release, so its token keeps growing);
 *                            `{P}:locks` the names held now
 * - `{P}:flags`              hash: store-wide flags
 *
 * Keys of one queue `q` share the hash tag `{P:q}`:
 * - `{P:q}:job:<id>`         hash: the job (zero counts and an empty history left out: layout 2)
 * - `{P:q}:waiting`          zset: claim order (score -priority; member run-at and id, fixed width)
 * - `{P:q}:scheduled`        zset: delayed and failed jobs by run-at
 * - `{P:q}:active`           zset: active jobs by lease expiry (stall recovery)
 * - `{P:q}:state:<state>`    zset: the jobs in a state by id (counts, paging); `{P:q}:all` every job
 * - `{P:q}:finished:<state>` zset: completed, dead, cancelled jobs by finish time (pruning)
 * - `{P:q}:dedupe`           hash: dedupe key -> the live job holding it
 * - `{P:q}:paused`           '1' or '0' once the queue was paused or resumed
 * - `{P:q}:fired`            hash: schedule id -> JSON of the last occurrence it fired into this
 *                            queue, the ids it reserved and what it added (Cluster; see fireInsert)
 * - `{P:q}:offers`           hash: worker (lease owner) -> `free:until:leaseMs`, the slots an idle
 *                            worker offers to the next adds (direct handoff; see handoff.ts)
 *
 * Wake-ups go out on the pub/sub channel `P:wake:<queue or #channel>`; jobs handed to a worker on
 * `P:hand:<owner>`.
 *
 * Redis Cluster: one queue's keys live in one slot and the global keys in another, and a script may
 * touch only one slot. On a single Redis, adding jobs, firing a schedule, finishing or moving a job by
 * id, removing and pruning each touch both in one script. On a Cluster (`RedisStore({ cluster })`)
 * the same scripts are built without their global part (`CLUSTER` in scripts.ts), and the client
 * runs that part as its own step, before or after (cluster.ts says in which order and why).
 */

/** The tag of the global keys. */
export function globalBase(prefix: string): string {
  return `{${prefix}}`;
}

/** The tag every key of one queue starts with. */
export function queueBase(prefix: string, queue: string): string {
  return `{${prefix}:${queue}}`;
}

/** The pub/sub channel that wakes subscribers of a queue or of a `#channel`. */
export function wakeChannel(prefix: string, name: string): string {
  return `${prefix}:wake:${name}`;
}

/** The pub/sub channel on which a worker (lease owner) receives the jobs adds handed to it. */
export function handChannel(prefix: string, owner: string): string {
  return `${prefix}:hand:${owner}`;
}

/** A SCAN pattern for every key of the store (its global and its queue keys). */
export function keyPattern(prefix: string): string {
  return `{${prefix}[:}]*`;
}

/**
 * The same names in Lua, for the scripts (which find a job's queue inside the script and so must
 * build its keys there). Kept beside the TypeScript above so the two cannot drift apart unseen.
 */
export const LUA_KEYS = `
local PREFIX = ARGV[1]
local ORIGIN = ARGV[2]
local G = '{' .. PREFIX .. '}'
local function queueBase(queue) return '{' .. PREFIX .. ':' .. queue .. '}' end
local function wakeChannel(name) return PREFIX .. ':wake:' .. name end
local function handChannel(owner) return PREFIX .. ':hand:' .. owner end
`;
