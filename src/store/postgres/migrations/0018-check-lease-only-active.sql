-- Only an active job has a lease owner: finishing a job tells that it is still active under its
-- owner by the owner alone (see outcomesCte), so this must hold for every row.
ALTER TABLE {schema}.jobs ADD CONSTRAINT jobs_lease_only_active CHECK (lease_owner IS NULL OR state = 'active')
