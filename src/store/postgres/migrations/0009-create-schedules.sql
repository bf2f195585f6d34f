CREATE TABLE {schema}.schedules (
  id text PRIMARY KEY,
  spec_hash text NOT NULL,
  next_run_at bigint,
  last_run_at bigint,
  paused boolean NOT NULL DEFAULT false,
  note text,
  updated_at bigint NOT NULL
)
