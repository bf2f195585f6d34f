-- Replaced by jobs_by_state_sparse (0016), which leaves waiting and completed jobs out: a completion adds no
-- entry to any secondary index.
DROP INDEX {schema}.jobs_by_state
