CREATE TABLE {schema}.queues (
  name text PRIMARY KEY,
  paused boolean NOT NULL DEFAULT false
)
