-- Every job row is updated several times in its life and deleted by pruning: vacuum after 2 % of the
-- table changed (the default waits for 20 %), so dead rows are reused before the table bloats.
ALTER TABLE {schema}.jobs SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02)
