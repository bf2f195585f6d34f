CREATE INDEX jobs_by_state ON {schema}.jobs (queue, state, id)
