-- A row stays after release (owner NULL) so the fencing token keeps growing for that name.
CREATE TABLE {schema}.locks (
  name text PRIMARY KEY,
  owner text,
  token bigint NOT NULL,
  acquired_at bigint,
  heartbeat_at bigint,
  ttl_ms bigint
)
