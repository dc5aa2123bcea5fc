CREATE TABLE event_ids_sorted (
    event_id BLOB PRIMARY KEY,
    seq      INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR REPLACE INTO event_ids_sorted (event_id, seq)
    SELECT event_id, seq FROM event_ids ORDER BY event_id, run;
DROP TABLE event_ids;
ALTER TABLE event_ids_sorted RENAME TO event_ids;
DROP TABLE event_id_runs;
