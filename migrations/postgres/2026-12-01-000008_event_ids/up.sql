-- Nothing on PostgreSQL: it keeps the unique index events_event_id. Several nodes write at
-- once there, and one node's memory cannot speak for the others (src/store/event_ids.rs).
-- The migration exists so that both backends list the same migrations.
SELECT 1;
