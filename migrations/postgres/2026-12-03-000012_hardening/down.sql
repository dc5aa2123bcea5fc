CREATE UNIQUE INDEX events_event_id ON events (event_id);
DROP INDEX events_org_event_id;
