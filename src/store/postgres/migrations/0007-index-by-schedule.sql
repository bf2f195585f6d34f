-- Each task's latest run without reading every job: only jobs a schedule fired are in it.
CREATE INDEX jobs_by_schedule ON {schema}.jobs ((origin ->> 'schedule'), id) WHERE origin IS NOT NULL
