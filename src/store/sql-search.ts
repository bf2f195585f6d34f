import {
  type FindJobsRequest,
  type FoundJobs,
  filterSql,
  type JobFilter,
  type MatchCount,
  type SqlDialect,
} from './job-search.ts';
import { type JobRow, rowToJob } from './rows.ts';

/** Runs one read statement with its parameters: how each SQL engine lends the search its connection. */
export type SqlRead = <Row>(sql: string, params: unknown[]) => Promise<Row[]>;

/** `findJobs` for the SQL engines: one statement, the cursor as an id bound. */
export async function findJobsWithSql(
  read: SqlRead,
  table: string,
  dialect: SqlDialect,
  request: FindJobsRequest,
): Promise<FoundJobs> {
  const cursor = request.after ? { after: request.after, order: request.order } : undefined;
  const { where, params } = filterSql(request, dialect, cursor);
  params.push(request.limit);
  const rows = await read<JobRow>(
    `SELECT * FROM ${table} WHERE ${where} ORDER BY id ${request.order === 'desc' ? 'DESC' : 'ASC'} LIMIT ${dialect.param(params.length)}`,
    params,
  );
  const jobs = rows.map(rowToJob);
  const last = jobs.at(-1);
  return { jobs, next: last && jobs.length === request.limit ? last.id : null };
}

/** `countMatching` for the SQL engines: counts at most `cap + 1` rows, so a broad filter stops early. */
export async function countMatchingWithSql(
  read: SqlRead,
  table: string,
  dialect: SqlDialect,
  filter: JobFilter,
  cap: number,
): Promise<MatchCount> {
  const { where, params } = filterSql(filter, dialect);
  params.push(cap + 1);
  const [row] = await read<{ n: number | string }>(
    `SELECT count(*) AS n FROM (SELECT 1 FROM ${table} WHERE ${where} LIMIT ${dialect.param(params.length)}) AS matching`,
    params,
  );
  const n = Number(row?.n ?? 0);
  return n > cap ? { count: cap, exact: false } : { count: n, exact: true };
}
