-- Payloads, results and errors are kept as the JSON text they were given (jsonb would reorder keys and
-- rewrite numbers); history and origin are jsonb, appended to and searched in place.
CREATE TABLE {schema}.jobs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  queue text NOT NULL,
  name text NOT NULL,
  payload text NOT NULL,
  state text NOT NULL,
  priority integer NOT NULL DEFAULT 0,
  run_at bigint NOT NULL,
  attempt integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL,
  failures integer NOT NULL DEFAULT 0,
  backoff text NOT NULL,
  timeout_ms bigint,
  dedupe_key text,
  stalls integer NOT NULL DEFAULT 0,
  max_stalls integer NOT NULL,
  lease_owner text,
  lease_expires_at bigint,
  result text,
  error text,
  dead_letter text,
  history jsonb NOT NULL DEFAULT '[]',
  origin jsonb,
  created_at bigint NOT NULL,
  started_at bigint,
  finished_at bigint
)
