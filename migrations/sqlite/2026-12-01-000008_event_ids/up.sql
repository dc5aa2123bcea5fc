-- Which event ids are stored, without a random index write per event (src/store/event_ids.rs).
-- The unique index on the tools' random UUIDs dirtied an index page at a random place for
-- every event: about 70 % of the pages each batch wrote. Ids now live in event_ids, sorted and
-- written in bulk, up to the seq in event_id_merges; the ids of later events are kept by the
-- writer in memory and read back from the events' seq range when it starts.
DROP INDEX events_event_id;

CREATE TABLE event_ids (
    event_id BLOB PRIMARY KEY,
    seq      INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE event_id_merges (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    merged_through INTEGER NOT NULL
);

INSERT INTO event_ids (event_id, seq) SELECT event_id, seq FROM events ORDER BY event_id;
INSERT INTO event_id_merges (id, merged_through) SELECT 1, COALESCE(MAX(seq), 0) FROM events;
