CREATE TABLE {schema}.offers (
  queue text NOT NULL,
  owner text NOT NULL,
  free integer NOT NULL,
  offer_until bigint NOT NULL,
  lease_ms bigint NOT NULL,
  listener integer NOT NULL,
  PRIMARY KEY (queue, owner)
)
