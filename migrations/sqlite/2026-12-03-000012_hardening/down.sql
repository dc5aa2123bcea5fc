-- The runs hold per-organisation keys; emptied, they are rebuilt from `events` again.
DELETE FROM event_ids;
DELETE FROM event_id_runs;
UPDATE event_id_merges SET merged_through = 0;
