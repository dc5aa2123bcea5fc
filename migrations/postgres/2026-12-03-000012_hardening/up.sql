-- Event ids are unique within an organisation, not across them: another organisation's tool
-- sending an id first must not make ours a conflict.
CREATE UNIQUE INDEX events_org_event_id ON events (org_id, event_id);
DROP INDEX events_event_id;
