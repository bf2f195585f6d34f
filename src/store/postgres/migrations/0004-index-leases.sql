CREATE INDEX jobs_leases ON {schema}.jobs (lease_expires_at) WHERE state = 'active'
