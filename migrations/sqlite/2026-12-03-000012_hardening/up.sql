-- Merged event ids are now kept per organisation (a hash of the organisation and the id,
-- src/store/event_ids.rs), so the merged runs are rebuilt: the writer reads every event id
-- back from `events` at its first batch and merges them again.
DELETE FROM event_ids;
DELETE FROM event_id_runs;
UPDATE event_id_merges SET merged_through = 0;
