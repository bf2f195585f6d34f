CREATE INDEX jobs_scheduled ON {schema}.jobs (queue, run_at) WHERE state IN ('delayed', 'failed')
