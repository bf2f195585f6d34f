CREATE TABLE {schema}.flags (
  name text PRIMARY KEY,
  value text NOT NULL
)
