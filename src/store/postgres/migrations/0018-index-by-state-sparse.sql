-- Jobs by state, for listing, counting and stall recovery (state = 'active'), in every state but the
-- two that hold the bulk of the jobs: waiting ones are found through jobs_claimable, completed ones
-- through the primary key (listing) or a scan that pruning keeps short (counting).
CREATE INDEX jobs_by_state_sparse ON {schema}.jobs (state, queue, id) WHERE state NOT IN ('waiting', 'completed')
