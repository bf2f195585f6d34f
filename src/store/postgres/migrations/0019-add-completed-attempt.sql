-- A completed attempt's worker and start: with the row's attempt and finished_at they are its history
-- record, which a completion then does not append to `history` (see outcomesCte). The record is most
-- of a completed row, written once more for every job; the two columns are a sixth of it.
ALTER TABLE {schema}.jobs ADD COLUMN completed_worker text, ADD COLUMN completed_started_at bigint
