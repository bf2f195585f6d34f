-- Only what is claimable is indexed for claiming: the index stays small however much history piles up.
CREATE INDEX jobs_claimable ON {schema}.jobs (queue, priority DESC, run_at, id) WHERE state = 'waiting'
