DROP TABLE event_id_merges;
DROP TABLE event_ids;
CREATE UNIQUE INDEX events_event_id ON events (event_id);
