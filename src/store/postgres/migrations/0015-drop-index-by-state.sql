-- Replaced by jobs_unfinished (0016), which leaves completed jobs out: a completion then adds no
-- entry to any secondary index.
DROP INDEX {schema}.jobs_by_state
