-- Jobs by state, for listing, counting and stall recovery (state = 'active'), in every state but the
-- two that hold the bulk of the jobs: waiting ones are found through jobs_claimable, completed ones
-- through the primary key (listing) or a scan that pruning keeps short (counting). An add then writes
-- only the primary key and jobs_claimable, a completion only the primary key.
-- Queue first: a lookup by id that also checks the state (finishing, renewing) must go by the
-- primary key; with state first, a plan made when no job was active chose this index instead and
-- scanned every active job once per id.
CREATE INDEX jobs_by_state_sparse ON {schema}.jobs (queue, state, id) WHERE state NOT IN ('waiting', 'completed')
