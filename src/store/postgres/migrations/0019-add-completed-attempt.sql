-- A completed attempt's worker and start: with the row's attempt and finished_at they are its history
-- record, which a completion then does not append to `history` (see outcomesCte). The record is most
-- of a completed row, written once more for every job; the two columns are a sixth of it. Only a
-- completed job has them (NOT VALID: the columns are new, so no row needs the scan).
ALTER TABLE {schema}.jobs ADD COLUMN completed_worker text, ADD COLUMN completed_started_at bigint,
  ADD CONSTRAINT jobs_completed_record_only_completed CHECK (completed_worker IS NULL OR state = 'completed') NOT VALID
