-- Replaced by jobs_by_state_sparse (0018), which leaves waiting jobs out as well: an add then
-- writes no entry beyond the primary key and jobs_claimable.
DROP INDEX {schema}.jobs_unfinished
