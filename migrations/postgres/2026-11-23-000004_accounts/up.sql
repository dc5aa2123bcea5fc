-- Sign-in, audit and privacy (issue 6). Times are milliseconds since the Unix epoch (UTC).

-- Failed sign-ins, per key: 'email:<sha-256 of the lower-cased email>' or 'ip:<address>'.
-- The email is hashed so that the table never holds an address that has no account.
CREATE TABLE login_failures (
    throttle_key  TEXT PRIMARY KEY NOT NULL,
    failures      INTEGER NOT NULL,
    first_failed  BIGINT NOT NULL,
    locked_until  BIGINT
);

-- Who read or changed student-level data, what and when. subject_id is the student's or
-- class's id; it is cleared when the student is erased (docs/privacy.md).
CREATE TABLE audit_log (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id      TEXT NOT NULL,
    at          BIGINT NOT NULL,
    actor_sub   TEXT NOT NULL,
    actor_role  TEXT NOT NULL,
    action      TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_id  TEXT,
    detail      TEXT
);
CREATE INDEX audit_log_org_at ON audit_log (org_id, at);
CREATE INDEX audit_log_subject ON audit_log (org_id, subject_id);

-- Retention: events that occurred before purged_before have been deleted for this org.
CREATE TABLE retention_marks (
    org_id        TEXT PRIMARY KEY NOT NULL,
    purged_before BIGINT NOT NULL,
    purged_at     BIGINT NOT NULL
);

-- A roster upload may name a group per student (used later for fairness reports).
ALTER TABLE students ADD COLUMN group_label TEXT;
