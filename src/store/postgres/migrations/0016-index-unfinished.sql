-- Jobs by state, for listing, counting and stall recovery (state = 'active'), leaving out completed
-- jobs, the bulk of the table: they are listed in id order by the primary key, and counted and pruned
-- by scans that pruning keeps short.
CREATE INDEX jobs_unfinished ON {schema}.jobs (state, queue, id) WHERE state <> 'completed'
