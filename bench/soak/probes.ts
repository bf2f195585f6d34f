/**
 * What a soak reads from the store itself every window: its size on disk or in memory, and on the
 * servers what they spent (CPU; on PostgreSQL also WAL flushes, tuples, index reads, wait events
 * and a probe of the claim's index scan), so a decay can be traced to its cause.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { StoreSpec } from '../stores.ts';
import { SOAK_QUEUE } from './protocol.ts';

export interface StoreSample {
  /** The store's size: what growth per job is computed from. */
  bytes: number;
  /** Everything else read, kept in the results. */
  figures: Record<string, number | string | null>;
  /** The part of the window's printed line about the store. */
  line: string;
}

export interface StoreProbe {
  /** What the store holds now and what it did over the last `seconds`. */
  sample(seconds: number): Promise<StoreSample>;
  /** Anything worth reading once at the end (index health on PostgreSQL). */
  final(): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

const MB = 1024 * 1024;

export function formatMb(bytes: number): string {
  return `${(bytes / MB).toFixed(1)} MB`;
}

/** Counters that only grow, turned into what they grew by since the previous read. */
class Deltas {
  private last = new Map<string, number>();
  /** Growth of each counter since the previous call (0 for one seen the first time). */
  of(counters: Record<string, number>): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, value] of Object.entries(counters)) {
      out[name] = value - (this.last.get(name) ?? value);
      this.last.set(name, value);
    }
    return out;
  }
}

export function sqliteProbe(spec: Extract<StoreSpec, { kind: 'sqlite' }>): StoreProbe {
  const size = (path: string) => {
    try {
      return statSync(path).size;
    } catch {
      return 0;
    }
  };
  return {
    async sample() {
      const db = size(spec.path);
      const wal = size(`${spec.path}-wal`);
      const shm = size(`${spec.path}-shm`);
      return {
        bytes: db + wal,
        figures: { dbBytes: db, walBytes: wal, shmBytes: shm },
        line: `store ${formatMb(db + wal)} (db ${formatMb(db)}, WAL ${formatMb(wal)})`,
      };
    },
    final: async () => ({}),
    close: async () => {},
  };
}

export function redisProbe(url: string): StoreProbe {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  const deltas = new Deltas();
  const field = (info: string, name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1]);
  return {
    async sample(seconds) {
      if (redis.status === 'wait') await redis.connect();
      const info = await redis.info();
      const used = field(info, 'used_memory');
      const cpuSeconds =
        field(info, 'used_cpu_user') +
        field(info, 'used_cpu_sys') +
        field(info, 'used_cpu_user_children') +
        field(info, 'used_cpu_sys_children');
      const grown = deltas.of({ cpuSeconds });
      const cpu = grown.cpuSeconds! / seconds;
      const keys = await redis.dbsize();
      const aof = field(info, 'aof_current_size');
      return {
        bytes: used,
        figures: { usedMemory: used, keys, aofBytes: aof, serverCpu: cpu },
        line: `store ${formatMb(used)} used_memory, ${keys} keys, AOF ${formatMb(aof)} · server CPU ${percent(cpu)}`,
      };
    },
    final: async () => ({}),
    close: async () => {
      redis.disconnect();
    },
  };
}

/** Clock ticks per second of /proc's CPU times. */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime, stime, cutime, cstime (in ticks) and ppid of a process, from /proc/<pid>/stat. */
function procStat(pid: number): { own: number; reaped: number; ppid: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return {
      ppid: Number(fields[1]),
      own: Number(fields[11]) + Number(fields[12]),
      reaped: Number(fields[13]) + Number(fields[14]),
    };
  } catch {
    return null;
  }
}

/**
 * CPU seconds a server's process tree has used: the main process, its children now running, and
 * those that exited (their times are added to the parent's when it reaps them).
 */
function treeCpuSeconds(pid: number): number {
  const main = procStat(pid);
  if (!main) return 0;
  let ticks = main.own + main.reaped;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const child = procStat(Number(entry));
    if (child?.ppid === pid) ticks += child.own;
  }
  return ticks / CLOCK_TICKS;
}

function percent(fraction: number): string {
  return `${Math.round(fraction * 100)}%`;
}

interface TableRow {
  total: number;
  heap: number;
  indexes: number;
  live: number;
  dead: number;
  inserted: number;
  updated: number;
  hot: number;
  deleted: number;
  vacuums: number;
  autovacuums: number;
  seq_scans: number;
  seq_read: number;
}

/**
 * PostgreSQL: the jobs table's size with its indexes (`pg_total_relation_size`) and its tuples from
 * `pg_stat_user_tables`; per index its size and reads; WAL written and flushed (`pg_stat_wal`); the
 * server's CPU; what its client backends were waiting for (sampled every 500 ms); and a probe of
 * the claim's first step, timed with the buffers it touched.
 */
export function postgresProbe(
  spec: Extract<StoreSpec, { kind: 'postgres' }>,
  serverPid: () => number | null,
): StoreProbe {
  const client = new pg.Client({ connectionString: spec.url });
  const connected = client.connect();
  // A second connection for the wait-event sampler, so it never queues behind a slow probe.
  const watcher = new pg.Client({ connectionString: spec.url });
  const watching = watcher.connect();
  const deltas = new Deltas();
  const table = `"${spec.schema}".jobs`;
  let waits = new Map<string, number>();
  let waitSamples = 0;
  let sampling = false;
  const timer = setInterval(() => {
    if (sampling) return;
    sampling = true;
    watching
      .then(() =>
        watcher.query<{ key: string; n: number }>(
          `SELECT CASE WHEN backend_type <> 'client backend' THEN backend_type
                    ELSE coalesce(wait_event_type || ':' || wait_event, 'CPU') END AS key, count(*)::int AS n
           FROM pg_stat_activity
           WHERE pid <> pg_backend_pid() AND state = 'active' OR backend_type = 'autovacuum worker'
           GROUP BY 1`,
        ),
      )
      .then(({ rows }) => {
        waitSamples++;
        for (const row of rows) waits.set(row.key, (waits.get(row.key) ?? 0) + row.n);
      })
      .catch(() => {})
      .finally(() => {
        sampling = false;
      });
  }, 500);
  timer.unref();

  const readTable = async (): Promise<TableRow> => {
    const { rows } = await client.query<Record<keyof TableRow, string>>(
      `SELECT pg_total_relation_size(s.relid) AS total, pg_relation_size(s.relid) AS heap,
         pg_indexes_size(s.relid) AS indexes, n_live_tup AS live, n_dead_tup AS dead, n_tup_ins AS inserted,
         n_tup_upd AS updated, n_tup_hot_upd AS hot, n_tup_del AS deleted, vacuum_count AS vacuums,
         autovacuum_count AS autovacuums, seq_scan AS seq_scans, seq_tup_read AS seq_read
       FROM pg_stat_user_tables AS s WHERE s.schemaname = $1 AND s.relname = 'jobs'`,
      [spec.schema],
    );
    return Object.fromEntries(
      Object.entries(rows[0] ?? {}).map(([k, v]) => [k, Number(v)]),
    ) as unknown as TableRow;
  };

  /**
   * The claim's first step as it runs inside the claim statement (the first waiting jobs in claim
   * order, through `jobs_claimable`), without its row locks so it takes nothing from the worker.
   */
  const probeClaim = async (): Promise<{ ms: number; buffers: number }> => {
    const { rows } = await client.query<{ 'QUERY PLAN': unknown }>(
      `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)
       SELECT id FROM ${table} WHERE queue = '${SOAK_QUEUE}' AND state = 'waiting'
       ORDER BY priority DESC, run_at, id LIMIT 10`,
    );
    const plan = (rows[0]!['QUERY PLAN'] as [{ 'Execution Time': number; Plan: Record<string, number> }])[0];
    return {
      ms: plan['Execution Time'],
      buffers: (plan.Plan['Shared Hit Blocks'] ?? 0) + (plan.Plan['Shared Read Blocks'] ?? 0),
    };
  };

  return {
    async sample(seconds) {
      await connected;
      const t = await readTable();
      const { rows: indexRows } = await client.query<{
        name: string;
        size: string;
        scans: string;
        read: string;
        fetched: string;
      }>(
        `SELECT indexrelname AS name, pg_relation_size(indexrelid) AS size, idx_scan AS scans,
           idx_tup_read AS read, idx_tup_fetch AS fetched
         FROM pg_stat_user_indexes WHERE schemaname = $1 AND relname = 'jobs' ORDER BY 1`,
        [spec.schema],
      );
      const { rows: walRows } = await client.query<Record<string, string>>(
        'SELECT wal_bytes, wal_write, wal_sync, wal_sync_time FROM pg_stat_wal',
      );
      const wal = walRows[0]!;
      const { rows: dbRows } = await client.query<{ commits: string }>(
        'SELECT xact_commit AS commits FROM pg_stat_database WHERE datname = current_database()',
      );
      const pid = serverPid();
      const counters: Record<string, number> = {
        updated: t.updated,
        hot: t.hot,
        seqScans: t.seq_scans,
        seqRead: t.seq_read,
        walBytes: Number(wal.wal_bytes),
        walWrites: Number(wal.wal_write),
        walSyncs: Number(wal.wal_sync),
        walSyncMs: Number(wal.wal_sync_time),
        cpuSeconds: pid === null ? 0 : treeCpuSeconds(pid),
        commits: Number(dbRows[0]?.commits ?? 0),
      };
      for (const row of indexRows) {
        counters[`${row.name}.scans`] = Number(row.scans);
        counters[`${row.name}.read`] = Number(row.read);
        counters[`${row.name}.fetched`] = Number(row.fetched);
      }
      const d = deltas.of(counters);
      const claim = await probeClaim();
      const perScan = (name: string) => {
        const scans = d[`${name}.scans`] ?? 0;
        return scans > 0 ? (d[`${name}.read`] ?? 0) / scans : null;
      };
      const figures: Record<string, number | string | null> = {
        totalBytes: t.total,
        heapBytes: t.heap,
        indexBytes: t.indexes,
        liveTuples: t.live,
        deadTuples: t.dead,
        vacuums: t.vacuums,
        autovacuums: t.autovacuums,
        hotShare: d.updated! > 0 ? d.hot! / d.updated! : null,
        serverCpu: d.cpuSeconds! / seconds,
        walBytesPerSecond: d.walBytes! / seconds,
        walSyncsPerSecond: d.walSyncs! / seconds,
        walSyncShare: d.walSyncMs! / 1000 / seconds,
        commitsPerSecond: d.commits! / seconds,
        seqScans: d.seqScans!,
        seqTuplesRead: d.seqRead!,
        claimProbeMs: claim.ms,
        claimProbeBuffers: claim.buffers,
      };
      for (const row of indexRows) {
        figures[`index.${row.name}.bytes`] = Number(row.size);
        figures[`index.${row.name}.scans`] = d[`${row.name}.scans`] ?? 0;
        figures[`index.${row.name}.readPerScan`] = perScan(row.name);
        figures[`index.${row.name}.fetched`] = d[`${row.name}.fetched`] ?? 0;
      }
      const averageWaits = [...waits]
        .map(([key, n]) => [key, waitSamples > 0 ? n / waitSamples : 0] as const)
        .sort((a, b) => b[1] - a[1]);
      for (const [key, n] of averageWaits) figures[`wait.${key}`] = n;
      waits = new Map();
      waitSamples = 0;
      const claimable = indexRows.find((row) => row.name === 'jobs_claimable');
      const claimableRead = perScan('jobs_claimable');
      const line = [
        `store ${formatMb(t.total)} (indexes ${formatMb(t.indexes)}), live ${t.live}, dead ${t.dead}`,
        `HOT ${figures.hotShare === null ? '-' : percent(figures.hotShare as number)}`,
        claimable
          ? `claimable ${formatMb(Number(claimable.size))}, ${claimableRead === null ? '-' : claimableRead.toFixed(0)} read/scan`
          : '',
        `claim probe ${claim.ms.toFixed(2)} ms ${claim.buffers} buf`,
        `server CPU ${percent(figures.serverCpu as number)}`,
        `${Math.round(d.commits! / seconds)} commits/s`,
        `WAL ${formatMb(d.walBytes! / seconds)}/s, ${Math.round(d.walSyncs! / seconds)} fsync/s (${percent(figures.walSyncShare as number)})`,
        `waits ${
          averageWaits
            .slice(0, 3)
            .map(([key, n]) => `${key} ${n.toFixed(1)}`)
            .join(', ') || '-'
        }`,
      ]
        .filter((part) => part !== '')
        .join(' · ');
      return { bytes: t.total, figures, line };
    },

    /**
     * The statements the server spent most time on (pg_stat_statements), and the health of the
     * table and its indexes (pgstattuple: leaf density, deleted pages, dead tuples), where the
     * extensions exist.
     */
    async final() {
      await connected;
      const statements = await client
        .query(
          `CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
           SELECT calls, round(total_exec_time::numeric, 1) AS total_ms, round(mean_exec_time::numeric, 3) AS mean_ms,
             round(shared_blks_hit::numeric / greatest(calls, 1), 1) AS blocks_per_call, rows,
             left(regexp_replace(query, '\\s+', ' ', 'g'), 160) AS query
           FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 12`,
        )
        .then(
          (results) => (results as unknown as pg.QueryResult[])[1]?.rows ?? [],
          (error: unknown) => `unavailable: ${error instanceof Error ? error.message : String(error)}`,
        );
      try {
        await client.query('CREATE EXTENSION IF NOT EXISTS pgstattuple');
      } catch (error) {
        return {
          statements,
          pgstatindex: `unavailable: ${error instanceof Error ? error.message : String(error)}`,
        };
      }
      const { rows } = await client.query<{ name: string }>(
        `SELECT indexrelname AS name FROM pg_stat_user_indexes WHERE schemaname = $1 AND relname = 'jobs'`,
        [spec.schema],
      );
      const indexes: Record<string, unknown> = {};
      for (const { name } of rows) {
        const { rows: stats } = await client.query(`SELECT * FROM pgstatindex($1)`, [
          `"${spec.schema}".${name}`,
        ]);
        indexes[name] = stats[0];
      }
      const { rows: tuples } = await client.query(`SELECT * FROM pgstattuple($1)`, [table]);
      return { statements, pgstatindex: indexes, pgstattuple: tuples[0] };
    },

    async close() {
      clearInterval(timer);
      await Promise.allSettled([client.end(), watcher.end()]);
    },
  };
}
