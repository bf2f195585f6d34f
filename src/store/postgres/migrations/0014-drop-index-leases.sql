-- Stall recovery finds active jobs through jobs_by_state_sparse (0016), and without this index a lease
-- renewal changes no indexed column, so heartbeats are HOT updates that add no index entries.
DROP INDEX {schema}.jobs_leases
