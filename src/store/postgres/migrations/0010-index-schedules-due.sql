-- A tick reads only what is due: its cost follows the due schedules, not all of them.
CREATE INDEX schedules_due ON {schema}.schedules (next_run_at) WHERE NOT paused AND next_run_at IS NOT NULL
