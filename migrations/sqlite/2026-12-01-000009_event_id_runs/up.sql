-- Each merge of recent event ids now appends a run, sorted within itself, instead of inserting
-- into one table sorted by id: inserting into that table rewrote nearly every page of it at
-- each merge, so a merge cost grew with all the ids ever stored (src/store/event_ids.rs).
-- A run is named by the seq its merge went through; event_id_runs lists them.
CREATE TABLE event_id_runs (
    run INTEGER PRIMARY KEY
);

CREATE TABLE event_ids_by_run (
    run      INTEGER NOT NULL,
    event_id BLOB    NOT NULL,
    seq      INTEGER NOT NULL,
    PRIMARY KEY (run, event_id)
) WITHOUT ROWID;

INSERT INTO event_id_runs (run) SELECT merged_through FROM event_id_merges
    WHERE EXISTS (SELECT 1 FROM event_ids);
INSERT INTO event_ids_by_run (run, event_id, seq)
    SELECT (SELECT merged_through FROM event_id_merges), event_id, seq FROM event_ids
    ORDER BY event_id;
DROP TABLE event_ids;
ALTER TABLE event_ids_by_run RENAME TO event_ids;
