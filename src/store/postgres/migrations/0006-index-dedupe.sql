-- A dedupe key is taken while its job has work ahead of it (the live states).
CREATE UNIQUE INDEX jobs_dedupe ON {schema}.jobs (queue, dedupe_key)
  WHERE dedupe_key IS NOT NULL AND state IN ('waiting', 'delayed', 'failed', 'active')
